name 'ntp'
version '1.0.0'
description 'chrony client configured by Crowbar'

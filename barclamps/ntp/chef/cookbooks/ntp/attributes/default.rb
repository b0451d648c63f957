default['ntp']['servers'] = []
default['ntp']['iburst'] = true

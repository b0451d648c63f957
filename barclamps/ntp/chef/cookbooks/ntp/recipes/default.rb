# ntp::default: chrony pointed at the appliance (or the proposal's servers).
package 'chrony'

servers = node['ntp']['servers']
servers = [node['crowbar']['appliance_address']] if servers.empty?

template '/etc/chrony/chrony.conf' do
  source 'chrony.conf.erb'
  mode '0644'
  variables(servers: servers, iburst: node['ntp']['iburst'])
  notifies :restart, 'service[chrony]'
end

service 'chrony' do
  action [:enable, :start]
end

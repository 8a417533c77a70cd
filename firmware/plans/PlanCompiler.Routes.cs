using SnicRuntime.Firmware.Pipeline;

namespace SnicRuntime.Firmware.Plans;

public static partial class PlanCompiler
{
    private sealed record ParsedRoute(IpPrefix Prefix, RouteKind Kind, int Vnet, IpPrefix? OverlayIp, string? EcmpGroup, byte MeterClass, string? ServiceTunnel = null);

    private sealed record ParsedServiceTunnel(string Name, UInt128 SourcePrefix, UInt128 DestinationPrefix, uint Pa, uint Vni, ulong Mac);

    private sealed record ParsedMapping(int Vnet, IpPrefix Ca, uint Pa, ulong Mac, uint Vni, EncapKind Encap);

    private sealed partial class Context
    {
        private readonly Dictionary<string, List<uint>> _ecmpGroups = new(StringComparer.Ordinal);
        private readonly Dictionary<string, List<ParsedRoute>> _routeTables = new(StringComparer.Ordinal);
        private readonly List<ParsedMapping> _mappings = [];
        private readonly Dictionary<string, ParsedServiceTunnel> _serviceTunnels = new(StringComparer.Ordinal);

        public void ServiceTunnels(List<ServiceTunnelSpec>? tunnels)
        {
            if (tunnels?.Count > PolicyTables.MaxServiceTunnels)
            {
                Error("$.service_tunnels", $"{tunnels.Count} service tunnels; a plan holds at most {PolicyTables.MaxServiceTunnels}");
                return;
            }

            for (int i = 0; i < (tunnels?.Count ?? 0); i++)
            {
                string path = $"$.service_tunnels[{i}]";
                ServiceTunnelSpec st = tunnels![i];
                bool ok = Name(path + ".name", st.Name, "a service tunnel");
                UInt128 src = Prefix96(path + ".overlay_src_prefix", st.OverlaySrcPrefix, ref ok);
                UInt128 dst = Prefix96(path + ".overlay_dst_prefix", st.OverlayDstPrefix, ref ok);
                if (!PlanSyntax.TryIpv4(st.UnderlayIp, out uint pa, out string why))
                {
                    Error(path + ".underlay_ip", why);
                    ok = false;
                }

                ok &= Vni(path + ".vni", st.Vni);
                ulong mac = 0;
                if (st.Mac is not null && !PlanSyntax.TryMac(st.Mac, out mac, out why))
                {
                    Error(path + ".mac", why);
                    ok = false;
                }

                if (ok && !_serviceTunnels.TryAdd(st.Name!, new ParsedServiceTunnel(st.Name!, src, dst, pa, (uint)st.Vni!.Value, mac)))
                {
                    Error(path + ".name", $"service tunnel '{st.Name}' is defined twice");
                }
            }
        }

        /// <summary>An IPv6 /96 (RFC 6052 embedding of IPv4 addresses in the low 32 bits).</summary>
        private UInt128 Prefix96(string path, string? text, ref bool ok)
        {
            if (!PlanSyntax.TryPrefix(text, out IpPrefix p, out string why))
            {
                Error(path, why);
                ok = false;
                return 0;
            }

            if (!p.IsIpv6 || p.Length != 96)
            {
                Error(path, $"'{text}' must be an IPv6 /96 (IPv4 addresses are embedded in its last 32 bits)");
                ok = false;
            }

            return p.Address;
        }

        public void EcmpGroups(List<EcmpGroupSpec>? groups)
        {
            for (int g = 0; g < (groups?.Count ?? 0); g++)
            {
                string path = $"$.ecmp_groups[{g}]";
                EcmpGroupSpec spec = groups![g];
                bool named = Name(path + ".name", spec.Name, "an ECMP group");
                var members = new List<uint>();
                if (spec.Members is null || spec.Members.Count == 0)
                {
                    Error(path + ".members", "an ECMP group needs at least one member");
                }

                for (int m = 0; m < (spec.Members?.Count ?? 0); m++)
                {
                    if (!PlanSyntax.TryIpv4(spec.Members![m], out uint pa, out string why))
                    {
                        Error($"{path}.members[{m}]", why);
                    }
                    else if (members.Contains(pa))
                    {
                        Error($"{path}.members[{m}]", $"member {spec.Members[m]} is listed twice");
                    }
                    else
                    {
                        members.Add(pa);
                    }
                }

                if (named && !_ecmpGroups.TryAdd(spec.Name!, members))
                {
                    Error(path + ".name", $"ECMP group '{spec.Name}' is defined twice");
                }
            }
        }

        public void RouteTables(List<RouteTableSpec>? tables)
        {
            for (int t = 0; t < (tables?.Count ?? 0); t++)
            {
                string path = $"$.route_tables[{t}]";
                RouteTableSpec spec = tables![t];
                bool named = Name(path + ".name", spec.Name, "a route table");
                var routes = new List<ParsedRoute>();
                var seen = new Dictionary<IpPrefix, int>();
                for (int r = 0; r < (spec.Routes?.Count ?? 0); r++)
                {
                    string routePath = $"{path}.routes[{r}]";
                    if (Route(routePath, spec.Routes![r]) is ParsedRoute route)
                    {
                        if (!seen.TryAdd(route.Prefix, r))
                        {
                            Error(routePath + ".prefix", $"prefix {route.Prefix} is routed twice (also at {path}.routes[{seen[route.Prefix]}])");
                        }

                        routes.Add(route);
                    }
                }

                if (named && !_routeTables.TryAdd(spec.Name!, routes))
                {
                    Error(path + ".name", $"route table '{spec.Name}' is defined twice");
                }
            }
        }

        private ParsedRoute? Route(string path, RouteSpec spec)
        {
            bool ok = PlanSyntax.TryPrefix(spec.Prefix, out IpPrefix prefix, out string why);
            if (!ok)
            {
                Error(path + ".prefix", why);
            }

            RouteKind? kind = spec.Action switch
            {
                "vnet" => RouteKind.Vnet,
                "vnet-direct" => RouteKind.VnetDirect,
                "direct" => RouteKind.Direct,
                "drop" => RouteKind.Drop,
                "service-tunnel" => RouteKind.ServiceTunnel,
                _ => null,
            };
            if (kind is null)
            {
                Error(path + ".action", $"action must be vnet, vnet-direct, direct, drop or service-tunnel, not '{spec.Action}'");
                return null;
            }

            string? service = null;
            if (kind == RouteKind.ServiceTunnel)
            {
                if (spec.ServiceTunnel is null || !_serviceTunnels.ContainsKey(spec.ServiceTunnel))
                {
                    Error(path + ".service_tunnel", spec.ServiceTunnel is null ? "a service-tunnel route needs service_tunnel" : $"unknown service tunnel '{spec.ServiceTunnel}'");
                    ok = false;
                }
                else if (ok && prefix.IsIpv6)
                {
                    Error(path + ".prefix", "a service tunnel translates IPv4 traffic (NAT46); its prefix must be IPv4");
                    ok = false;
                }

                service = spec.ServiceTunnel;
            }
            else if (spec.ServiceTunnel is not null)
            {
                Error(path + ".service_tunnel", "service_tunnel is only for service-tunnel routes");
                ok = false;
            }

            int vnet = -1;
            if (kind is RouteKind.Vnet or RouteKind.VnetDirect)
            {
                vnet = VnetRef(path + ".vnet", spec.Vnet);
                ok &= vnet >= 0;
            }
            else if (spec.Vnet is not null || spec.EcmpGroup is not null || spec.OverlayIp is not null)
            {
                Error(path, $"a '{spec.Action}' route takes no vnet, ecmp_group or overlay_ip");
                ok = false;
            }

            IpPrefix? overlay = null;
            if (kind == RouteKind.VnetDirect)
            {
                if (!PlanSyntax.TryAddress(spec.OverlayIp, out IpPrefix ip, out why))
                {
                    Error(path + ".overlay_ip", why);
                    ok = false;
                }

                overlay = ip;
            }
            else if (spec.OverlayIp is not null)
            {
                Error(path + ".overlay_ip", "overlay_ip is only for vnet-direct routes");
                ok = false;
            }

            if (spec.EcmpGroup is not null && kind != RouteKind.Vnet)
            {
                Error(path + ".ecmp_group", "ecmp_group is only for vnet routes");
                ok = false;
            }
            else if (spec.EcmpGroup is not null && !_ecmpGroups.ContainsKey(spec.EcmpGroup))
            {
                Error(path + ".ecmp_group", $"unknown ECMP group '{spec.EcmpGroup}'");
                ok = false;
            }

            byte meter = 0;
            if (spec.MeterClass is long m)
            {
                if (!_meterClasses.ContainsKey(m))
                {
                    Error(path + ".meter_class", $"unknown meter class {m} (define it under $.meter_classes)");
                    ok = false;
                }
                else
                {
                    meter = (byte)m;
                }
            }

            return ok ? new ParsedRoute(prefix, kind.Value, vnet, overlay, spec.EcmpGroup, meter, service) : null;
        }

        public void Mappings(List<MappingSpec>? mappings)
        {
            var seen = new Dictionary<(int, IpPrefix), int>();
            for (int i = 0; i < (mappings?.Count ?? 0); i++)
            {
                string path = $"$.mappings[{i}]";
                MappingSpec m = mappings![i];
                int vnet = VnetRef(path + ".vnet", m.Vnet);
                bool ok = vnet >= 0;
                if (!PlanSyntax.TryAddress(m.Ip, out IpPrefix ca, out string why))
                {
                    Error(path + ".ip", why);
                    ok = false;
                }

                if (!PlanSyntax.TryIpv4(m.UnderlayIp, out uint pa, out why))
                {
                    Error(path + ".underlay_ip", why);
                    ok = false;
                }

                ulong mac = 0;
                if (m.Mac is not null && !PlanSyntax.TryMac(m.Mac, out mac, out why))
                {
                    Error(path + ".mac", why);
                    ok = false;
                }

                uint vni = 0;
                if (m.Vni is not null)
                {
                    ok &= Vni(path + ".vni", m.Vni);
                    vni = (uint)(m.Vni ?? 0);
                }
                else if (vnet >= 0)
                {
                    vni = _vnetList[vnet].Vni;
                }

                EncapKind? encap = m.Encap switch
                {
                    null or "vxlan" => EncapKind.Vxlan,
                    "nvgre" => EncapKind.Nvgre,
                    _ => null,
                };
                if (encap is null)
                {
                    Error(path + ".encap", $"encap must be \"vxlan\" or \"nvgre\", not '{m.Encap}'");
                    ok = false;
                }

                if (ok && !seen.TryAdd((vnet, ca), i))
                {
                    Error(path + ".ip", $"{m.Ip} is mapped twice in VNET '{m.Vnet}' (also at $.mappings[{seen[(vnet, ca)]}])");
                    ok = false;
                }

                if (ok)
                {
                    _mappings.Add(new ParsedMapping(vnet, ca, pa, mac, vni, encap!.Value));
                }
            }
        }
    }
}

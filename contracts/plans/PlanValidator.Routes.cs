namespace SnicRuntime.Contracts.Plans;

public static partial class PlanValidator
{
    public sealed record ParsedRoute(IpPrefix Prefix, RouteKind Kind, int Vnet, IpPrefix? OverlayIp, string? EcmpGroup, byte MeterClass, string? ServiceTunnel = null);

    public sealed partial class ValidPlan
    {
        private readonly Dictionary<string, List<uint>> _ecmpGroups = new(StringComparer.Ordinal);
        private readonly Dictionary<string, List<ParsedRoute>> _routeTables = new(StringComparer.Ordinal);

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
    }
}

namespace SnicRuntime.Contracts.Plans;

public static partial class PlanValidator
{
    public sealed record ParsedEni(
        string Name, ulong Mac, int Vnet, bool AdminUp, uint VmVni, uint VmUnderlayIp, string? RouteTable,
        string?[] OutboundV4, string?[] InboundV4, string?[] OutboundV6, string?[] InboundV6,
        List<InboundRoute> InboundRoutes, List<(uint Internal, uint External)> Nat);

    public sealed partial class ValidPlan
    {
        private readonly List<ParsedEni> _enis = [];

        public void Enis(List<EniSpec>? enis)
        {
            var names = new Dictionary<string, int>(StringComparer.Ordinal);
            var macs = new Dictionary<ulong, int>();
            int count = enis?.Count ?? 0;
            if (count > PlanLimits.MaxEnis && Scope == PlanScope.Card)
            {
                Error("$.enis", $"{count} ENIs; a card holds at most {PlanLimits.MaxEnis}");
                return;
            }

            for (int i = 0; i < count; i++)
            {
                string path = $"$.enis[{i}]";
                EniSpec e = enis![i];
                bool ok = Name(path + ".name", e.Name, "an ENI");
                if (ok && !names.TryAdd(e.Name!, i))
                {
                    Error(path + ".name", $"ENI '{e.Name}' is defined twice (also at $.enis[{names[e.Name!]}])");
                    ok = false;
                }

                if (!PlanSyntax.TryMac(e.Mac, out ulong mac, out string why))
                {
                    Error(path + ".mac", why);
                    ok = false;
                }
                else if (!macs.TryAdd(mac, i))
                {
                    Error(path + ".mac", $"MAC {e.Mac} already belongs to $.enis[{macs[mac]}]");
                    ok = false;
                }

                int vnet = VnetRef(path + ".vnet", e.Vnet);
                ok &= vnet >= 0;
                bool up = e.AdminState is null or "up";
                if (!up && e.AdminState != "down")
                {
                    Error(path + ".admin_state", $"admin_state must be \"up\" or \"down\", not '{e.AdminState}'");
                    ok = false;
                }

                ok &= Vni(path + ".vm_vni", e.VmVni);
                if (!PlanSyntax.TryIpv4(e.VmUnderlayIp, out uint vmIp, out why))
                {
                    Error(path + ".vm_underlay_ip", why);
                    ok = false;
                }

                if (e.RouteTable is not null && !_routeTables.ContainsKey(e.RouteTable))
                {
                    Error(path + ".route_table", $"unknown route table '{e.RouteTable}'");
                    ok = false;
                }

                string?[] out4 = AclStages(path + ".acl.outbound_v4", e.Acl?.OutboundV4, ipv6: false);
                string?[] in4 = AclStages(path + ".acl.inbound_v4", e.Acl?.InboundV4, ipv6: false);
                string?[] out6 = AclStages(path + ".acl.outbound_v6", e.Acl?.OutboundV6, ipv6: true);
                string?[] in6 = AclStages(path + ".acl.inbound_v6", e.Acl?.InboundV6, ipv6: true);
                List<InboundRoute> inbound = InboundRoutes(path + ".inbound_routes", e.InboundRoutes);
                List<(uint, uint)> nat = StaticNat(path + ".static_nat", e.StaticNat);
                if (ok)
                {
                    _enis.Add(new ParsedEni(e.Name!, mac, vnet, up, (uint)e.VmVni!.Value, vmIp, e.RouteTable, out4, in4, out6, in6, inbound, nat));
                }
            }
        }

        private List<InboundRoute> InboundRoutes(string path, List<InboundRouteSpec>? routes)
        {
            var result = new List<InboundRoute>();
            for (int i = 0; i < (routes?.Count ?? 0); i++)
            {
                string p = $"{path}[{i}]";
                InboundRouteSpec r = routes![i];
                bool ok = Vni(p + ".vni", r.Vni);
                IpPrefix prefix = new(false, 0, 0);
                if (r.UnderlayPrefix is not null)
                {
                    if (!PlanSyntax.TryPrefix(r.UnderlayPrefix, out prefix, out string why))
                    {
                        Error(p + ".underlay_prefix", why);
                        ok = false;
                    }
                    else if (prefix.IsIpv6)
                    {
                        Error(p + ".underlay_prefix", "the underlay is IPv4");
                        ok = false;
                    }
                }

                InboundRouteAction? action = r.Action switch
                {
                    null or "decap" => InboundRouteAction.Decap,
                    "decap-pa-validate" => InboundRouteAction.DecapPaValidate,
                    _ => null,
                };
                if (action is null)
                {
                    Error(p + ".action", $"action must be \"decap\" or \"decap-pa-validate\", not '{r.Action}'");
                    ok = false;
                }

                if (ok)
                {
                    uint first = prefix.Length == 0 ? 0 : prefix.V4;
                    uint last = prefix.Length == 0 ? uint.MaxValue : first | (uint)((1UL << (32 - prefix.Length)) - 1);
                    var route = new InboundRoute((uint)r.Vni!.Value, first, last, prefix.Length, action!.Value);
                    if (result.Any(x => x.Vni == route.Vni && x.UnderlayFirst == first && x.Length == route.Length))
                    {
                        Error(p, $"an inbound route for VNI {r.Vni} from {r.UnderlayPrefix ?? "any"} is already defined");
                        continue;
                    }

                    result.Add(route);
                }
            }

            return result;
        }

        private List<(uint, uint)> StaticNat(string path, List<StaticNatSpec>? entries)
        {
            var result = new List<(uint, uint)>();
            for (int i = 0; i < (entries?.Count ?? 0); i++)
            {
                string p = $"{path}[{i}]";
                bool ok = PlanSyntax.TryIpv4(entries![i].Internal, out uint inside, out string why);
                if (!ok)
                {
                    Error(p + ".internal", why);
                }

                if (!PlanSyntax.TryIpv4(entries[i].External, out uint outside, out why))
                {
                    Error(p + ".external", why);
                    ok = false;
                }

                if (ok && result.Any(x => x.Item1 == inside || x.Item2 == outside))
                {
                    Error(p, "static NAT is 1:1: this internal or external address is already translated");
                    ok = false;
                }

                if (ok)
                {
                    result.Add((inside, outside));
                }
            }

            return result;
        }
    }
}

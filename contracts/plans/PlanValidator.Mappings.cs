namespace SnicRuntime.Contracts.Plans;

/// <summary>The mapping part of plan validation: CA to PA mappings per VNET (address, PA, MAC, VNI, encap), each CA once per VNET.</summary>
public static partial class PlanValidator
{
    public sealed record ParsedMapping(int Vnet, IpPrefix Ca, uint Pa, ulong Mac, uint Vni, EncapKind Encap);

    public sealed partial class ValidPlan
    {
        private readonly List<ParsedMapping> _mappings = [];

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

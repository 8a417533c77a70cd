namespace SnicRuntime.Contracts.Plans;

/// <summary>The service-tunnel part of plan validation (NAT46/64): the /96 prefixes that embed IPv4 addresses, and the tunnel's underlay.</summary>
public static partial class PlanValidator
{
    public sealed record ParsedServiceTunnel(string Name, UInt128 SourcePrefix, UInt128 DestinationPrefix, uint Pa, uint Vni, ulong Mac);

    public sealed partial class ValidPlan
    {
        private readonly Dictionary<string, ParsedServiceTunnel> _serviceTunnels = new(StringComparer.Ordinal);

        public void ServiceTunnels(List<ServiceTunnelSpec>? tunnels)
        {
            if (tunnels?.Count > PlanLimits.MaxServiceTunnels)
            {
                Error("$.service_tunnels", $"{tunnels.Count} service tunnels; a plan holds at most {PlanLimits.MaxServiceTunnels}");
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
    }
}

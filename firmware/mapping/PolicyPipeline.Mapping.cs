using SnicRuntime.Contracts.Plans;
using SnicRuntime.Firmware.Plans;
using SnicRuntime.Firmware.Routing;

namespace SnicRuntime.Firmware.Pipeline;

/// <summary>The mapping step: CA to PA lookups in a VNET, and the keys a route will look up (for prefetching).</summary>
public sealed partial class PolicyPipeline
{
    /// <summary>The mapping key a route will look up, for prefetching (0 when none or IPv6).</summary>
    private static ulong MappingKeyOf(Eni eni, int r, UInt128 dst, bool v6)
    {
        if (r < 0)
        {
            return 0;
        }

        ref readonly Route route = ref eni.RouteTable!.Routes[r];
        return route.Kind switch
        {
            RouteKind.Vnet when route.EcmpActions is null && !v6 => (ulong)route.Vnet << 32 | (uint)dst,
            RouteKind.VnetDirect when !route.OverlayIp!.Value.IsIpv6 => (ulong)route.Vnet << 32 | route.OverlayIp.Value.V4,
            _ => 0,
        };
    }

    private int MappingOf(PolicyTables t, int vnet, UInt128 ca, bool v6)
    {
        Counters.MappingLookups++;
        if (!v6)
        {
            return t.Mappings4.Get((ulong)vnet << 32 | (uint)ca);
        }

        return t.Mappings6.TryGetValue((vnet, ca), out int index) ? index : -1;
    }
}

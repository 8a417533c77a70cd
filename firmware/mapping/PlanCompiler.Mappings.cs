using SnicRuntime.Contracts.Plans;
using SnicRuntime.Firmware.Encap;

namespace SnicRuntime.Firmware.Plans;

public static partial class PlanCompiler
{
    /// <summary>A generation's mapping lookups: IPv4 CAs by <c>VNET &lt;&lt; 32 | CA</c>, IPv6 CAs, and the PAs known per VNET (for PA validation).</summary>
    private sealed record MappingTables(U64Map V4, Dictionary<(int Vnet, UInt128 Ca), int> V6, U64Map KnownPas);

    /// <summary>One tunnel action per mapping (a lookup returns its index) and the maps that find them.</summary>
    private static MappingTables BuildMappings(PlanValidator.ValidPlan v, List<TunnelAction> actions)
    {
        var mappings4 = new List<KeyValuePair<ulong, int>>();
        var mappings6 = new Dictionary<(int, UInt128), int>();
        var pas = new HashSet<ulong>();
        foreach (PlanValidator.ParsedMapping m in v.MappingList)
        {
            int index = actions.Count;
            actions.Add(new TunnelAction(TunnelActionKind.Encap, m.Encap, m.Pa, m.Vni, m.Mac));
            if (m.Ca.IsIpv6)
            {
                mappings6[(m.Vnet, m.Ca.Address)] = index;
            }
            else
            {
                mappings4.Add(new((ulong)m.Vnet << 32 | m.Ca.V4, index));
            }

            pas.Add((ulong)m.Vnet << 32 | m.Pa);
        }

        return new MappingTables(new U64Map(mappings4), mappings6, new U64Map(pas.Select(p => new KeyValuePair<ulong, int>(p, 1)).ToList()));
    }
}

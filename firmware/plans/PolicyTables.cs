using SnicRuntime.Contracts.Plans;
using SnicRuntime.Firmware.Acl;
using SnicRuntime.Firmware.Encap;
using SnicRuntime.Firmware.Nat;
using SnicRuntime.Firmware.Plans;
using SnicRuntime.Firmware.Routing;

namespace SnicRuntime.Firmware.Plans;

/// <summary>An ENI in compiled form. Index is stable across generations for the same name (flows are keyed by it).</summary>
public sealed class Eni
{
    public required string Name { get; init; }
    public required int Index { get; init; }
    public required bool AdminUp { get; init; }
    public required int Vnet { get; init; }
    public required uint VmVni { get; init; }
    public required uint VmUnderlayIp { get; init; }
    public RouteTable? RouteTable { get; init; }
    public required AclGroup<uint>?[] OutboundV4 { get; init; }
    public required AclGroup<uint>?[] InboundV4 { get; init; }
    public required AclGroup<UInt128>?[] OutboundV6 { get; init; }
    public required AclGroup<UInt128>?[] InboundV6 { get; init; }
    public required InboundRoute[] InboundRoutes { get; init; }
    /// <summary>Static NAT, internal → external and back (IPv4 overlay addresses); null when the ENI has none.</summary>
    public U64Map? NatOut { get; init; }
    public U64Map? NatIn { get; init; }
}

/// <summary>
/// One configuration generation compiled into immutable lookup structures. Workers read the
/// current instance once per burst (one volatile read) and use it without locks; a new plan
/// builds a new instance and swaps the reference.
/// </summary>
public sealed class PolicyTables
{
    /// <summary>ENI indices are flow-key scopes and counter slots: at most this many ENIs.</summary>
    public const int MaxEnis = PlanLimits.MaxEnis;

    /// <summary>Meter classes 0..MaxMeterClasses-1 (a flow's action word keeps the class in its top 8 bits).</summary>
    public const int MaxMeterClasses = PlanLimits.MaxMeterClasses;


    /// <summary>Action index meaning "no outbound action" (a reply the policy could not route).</summary>
    public const uint NoAction = 0xFFFFFF;

    public required long Generation { get; init; }
    public required uint Vip { get; init; }
    public required ulong ApplianceMac { get; init; }
    public required ulong NeighborMac { get; init; }
    public required int UplinkPort { get; init; }
    public required U64Map OutboundVnis { get; init; }
    public required U64Map EniByMac { get; init; }
    /// <summary>By ENI index (holes where an index is free).</summary>
    public required Eni?[] Enis { get; init; }
    public required string[] VnetNames { get; init; }
    public required uint[] VnetVnis { get; init; }
    /// <summary>(VNET index &lt;&lt; 32 | IPv4 CA) → action index.</summary>
    public required U64Map Mappings4 { get; init; }
    public required Dictionary<(int Vnet, UInt128 Ca), int> Mappings6 { get; init; }
    /// <summary>(VNET index &lt;&lt; 32 | PA) for PA validation.</summary>
    public required U64Map KnownPas { get; init; }
    public required ActionTable Actions { get; init; }
    /// <summary>Index of the shared "direct" action (decap, send to the underlay next hop).</summary>
    public required int DirectAction { get; init; }
    public required string[] MeterClassNames { get; init; }
    public required ServiceTunnel[] ServiceTunnels { get; init; }
    public required ChangePlan Source { get; init; }

    public ushort Generation16 => (ushort)Generation;

    public int EniCount => Enis.Count(e => e is not null);

    public Eni? FindEni(string name) => Enis.FirstOrDefault(e => e?.Name == name);
}

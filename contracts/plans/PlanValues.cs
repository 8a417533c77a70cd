namespace SnicRuntime.Contracts.Plans;

// The plan's vocabulary as values: what a validated plan says, in the types both the validator
// and the card's compiler use (the card's tables keep them as they are).

/// <summary>Limits a plan must keep: what the card's tables can index.</summary>
public static class PlanLimits
{
    /// <summary>ENI indices are flow-key scopes and counter slots on the card: at most this many ENIs.</summary>
    public const int MaxEnis = 1024;

    /// <summary>Meter classes 0..MaxMeterClasses-1 (a flow's action word keeps the class in its top 8 bits).</summary>
    public const int MaxMeterClasses = 16;

    /// <summary>Service tunnels a plan may hold (an action keeps the index in 16 bits, 0xFFFF meaning none).</summary>
    public const int MaxServiceTunnels = 0xFFFE;

    /// <summary>VNIs are 24 bits.</summary>
    public const uint MaxVni = (1 << 24) - 1;
}

/// <summary>ACL rule actions, as in SONiC DASH.</summary>
public enum AclAction : byte
{
    Permit,
    Deny,
    /// <summary>Remember "permit" and go on to the next stage.</summary>
    PermitAndContinue,
    /// <summary>Remember "deny" and go on to the next stage (a later stage may still permit).</summary>
    DenyAndContinue,
}

/// <summary>An inclusive port range.</summary>
public readonly record struct PortRange(ushort First, ushort Last)
{
    public bool Contains(ushort port) => port >= First && port <= Last;
}

/// <summary>A route's action (DASH's routing types).</summary>
public enum RouteKind : byte
{
    Vnet,
    VnetDirect,
    Direct,
    Drop,
    ServiceTunnel,
}

/// <summary>The encapsulation of a mapping or tunnel.</summary>
public enum EncapKind : byte
{
    Vxlan,
    Nvgre,
}

/// <summary>What an inbound route does: decapsulate, or decapsulate only from a known PA of the ENI's VNET.</summary>
public enum InboundRouteAction : byte
{
    Decap,
    DecapPaValidate,
}

/// <summary>An inbound route of an ENI: packets with this VNI from the underlay range [first, last] (a prefix of <paramref name="Length"/> bits).</summary>
public readonly record struct InboundRoute(uint Vni, uint UnderlayFirst, uint UnderlayLast, int Length, InboundRouteAction Action);

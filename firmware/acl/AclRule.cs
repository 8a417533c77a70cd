using System.Numerics;
using SnicRuntime.Firmware.Routing;

namespace SnicRuntime.Firmware.Acl;

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

/// <summary>
/// One rule of an ACL group in compiled form. An empty prefix, protocol or port list means "any".
/// Lower <see cref="Priority"/> wins; priorities are unique within a group.
/// </summary>
public sealed record AclRule<T>(
    int Priority,
    AclAction Action,
    IReadOnlyList<PrefixRange<T>> Source,
    IReadOnlyList<PrefixRange<T>> Destination,
    IReadOnlyList<byte> Protocols,
    IReadOnlyList<PortRange> SourcePorts,
    IReadOnlyList<PortRange> DestinationPorts)
    where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
{
    /// <summary>The definition of a match, used by the classifier's slow checks and by the tests' linear-scan model.</summary>
    public bool Matches(T src, T dst, byte protocol, ushort srcPort, ushort dstPort) =>
        InAny(Source, src) && InAny(Destination, dst)
        && (Protocols.Count == 0 || Protocols.Contains(protocol))
        && InAny(SourcePorts, srcPort) && InAny(DestinationPorts, dstPort);

    private static bool InAny(IReadOnlyList<PrefixRange<T>> prefixes, T address)
    {
        if (prefixes.Count == 0)
        {
            return true;
        }

        foreach (PrefixRange<T> p in prefixes)
        {
            if (address >= p.First && address <= p.Last)
            {
                return true;
            }
        }

        return false;
    }

    private static bool InAny(IReadOnlyList<PortRange> ranges, ushort port)
    {
        if (ranges.Count == 0)
        {
            return true;
        }

        foreach (PortRange r in ranges)
        {
            if (r.Contains(port))
            {
                return true;
            }
        }

        return false;
    }
}

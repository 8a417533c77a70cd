using SnicRuntime.Contracts.Plans;
using System.Numerics;
using SnicRuntime.Firmware.Routing;

namespace SnicRuntime.Firmware.Acl;

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

/// <summary>Turns a validated plan's ACL group into the classifier's rules for one address family.</summary>
public static class AclRules
{
    public static List<AclRule<T>> Of<T>(PlanValidator.ParsedAclGroup group, Func<IpPrefix, T> address)
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T>
    {
        ArgumentNullException.ThrowIfNull(group);
        ArgumentNullException.ThrowIfNull(address);
        return group.Rules.Select(r => new AclRule<T>(r.Priority, r.Action, Ranges(r.Source, address), Ranges(r.Destination, address),
            r.Protocols, r.SourcePorts, r.DestinationPorts)).ToList();
    }

    private static List<PrefixRange<T>> Ranges<T>(IReadOnlyList<IpPrefix> prefixes, Func<IpPrefix, T> address)
        where T : unmanaged, IBinaryInteger<T>, IUnsignedNumber<T> =>
        prefixes.Select(p => PrefixRange<T>.Of(address(p), p.Length, 0)).ToList();
}

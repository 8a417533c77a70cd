using SnicRuntime.Contracts.Plans;
using SnicRuntime.Firmware.Acl;
using SnicRuntime.Firmware.Routing;

namespace SnicRuntime.Bench;

/// <summary>
/// Our side of the rte_acl comparison (bench/peers/rte_acl_peer.c): the same group (generation
/// mirrors the C program draw for draw, see its header), the same keys, the same timed loop, and
/// the same result checksum, so both sides are shown to classify identically.
/// </summary>
internal static class AclPeerRun
{
    public static int Run(string[] args)
    {
        Dictionary<string, string>? a = PeerTiming.Arguments("acl-peer", args, "--rules", "--prefixes", "--lookups", "--seed");
        if (a is null)
        {
            return 2;
        }

        long rules = PeerTiming.Long(a, "--rules", 1000);
        long prefixes = PeerTiming.Long(a, "--prefixes", 100);
        long lookups = PeerTiming.Long(a, "--lookups", 4_000_000);
        ulong seed = (ulong)PeerTiming.Long(a, "--seed", 42);
        var list = new List<AclRule<uint>>();
        ulong s = seed;
        for (int i = 0; i < rules; i++)
        {
            ulong r = BenchKeys.Next(ref s);
            int srcLen = 8 + (int)((r >> 56) % 9);
            var src = PrefixRange<uint>.Of(0x0A00_0000u | ((uint)BenchKeys.Next(ref s) & 0xFFFFFF), srcLen, 0);
            byte proto = ((r >> 8) & 1) != 0 ? (byte)6 : (byte)17;
            ushort lo = (ushort)((r >> 16) & 0x3FFF), hi = (ushort)(lo + ((r >> 32) & 0x3FF));
            var dst = new List<PrefixRange<uint>>();
            for (int p = 0; p < prefixes; p++)
            {
                ulong d = BenchKeys.Next(ref s);
                dst.Add(PrefixRange<uint>.Of(0x0A00_0000u | ((uint)d & 0xFFFFFF), 16 + (int)((d >> 56) % 13), 0));
            }

            list.Add(new AclRule<uint>(i, AclAction.Permit, [src], dst, [proto], [], [new PortRange(lo, hi)]));
        }

        var build = System.Diagnostics.Stopwatch.StartNew();
        var group = new AclGroup<uint>("peer", list);
        Console.Error.WriteLine($"acl-peer: built {rules}x{prefixes} in {build.Elapsed.TotalSeconds:F1} s, {group.TotalBytes >> 20} MiB");

        var src4 = new uint[lookups];
        var dst4 = new uint[lookups];
        var proto4 = new byte[lookups];
        var dport = new ushort[lookups];
        ulong k = seed + 1;
        for (long j = 0; j < lookups; j++)
        {
            ulong v = BenchKeys.Next(ref k);
            src4[j] = 0x0A00_0000u | (uint)(v & 0xFFFFFF);
            dst4[j] = 0x0A00_0000u | (uint)((v >> 24) & 0xFFFFFF);
            proto4[j] = ((v >> 48) & 1) != 0 ? (byte)6 : (byte)17;
            dport[j] = (ushort)((v >> 49) & 0x3FFF);
        }

        var sport = new ushort[PeerTiming.Burst];
        var results = new int[PeerTiming.Burst];
        (double ns, long found) = PeerTiming.Time(lookups, j =>
        {
            int at = (int)j;
            group.ClassifyBulk(src4.AsSpan(at, PeerTiming.Burst), dst4.AsSpan(at, PeerTiming.Burst), proto4.AsSpan(at, PeerTiming.Burst),
                sport, dport.AsSpan(at, PeerTiming.Burst), results);
            long hits = 0;
            foreach (int r in results)
            {
                hits += r >= 0 ? 1 : 0;
            }

            return hits;
        });

        // Untimed: the sum of (rule index + 1) over the timed keys, to compare with the peer's.
        long checksum = 0;
        for (long q = 0; q < lookups - lookups % PeerTiming.Burst; q++)
        {
            checksum += group.Classify(src4[q], dst4[q], proto4[q], 0, dport[q]) + 1;
        }

        Console.WriteLine(FormattableString.Invariant($"ns_per_lookup={ns:F2} found={found} checksum={checksum}"));
        return 0;
    }
}

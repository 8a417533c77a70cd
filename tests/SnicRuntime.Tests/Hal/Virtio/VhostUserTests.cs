using System.Collections.Concurrent;
using System.Diagnostics;
using SnicRuntime.Hal;
using SnicRuntime.Hal.Virtio;
using Xunit;

namespace SnicRuntime.Tests.Hal.Virtio;

/// <summary>
/// Our vhost-user backend against a virtio-net driver nobody here wrote: dpdk-testpmd with
/// net_virtio_user connects to our socket, negotiates features, shares its (hugepage) memory
/// and rings; frames we put in its receive ring come back through its transmit ring with the
/// MAC addresses swapped (testpmd's macswap mode), whole and in order. Needs root (hugepages)
/// and dpdk-testpmd; ./test.sh --system installs it.
/// </summary>
[Collection("processes")]
[Trait("Category", "System")]
public sealed class VhostUserTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("snic-vhost-").FullName;
    private readonly ConcurrentQueue<string> _log = new();
    private Process? _testpmd;

    public void Dispose()
    {
        if (_testpmd is { HasExited: false })
        {
            _testpmd.Kill();
            _testpmd.WaitForExit(10_000);
        }

        Directory.Delete(_dir, recursive: true);
    }

    /// <summary>Reserves 2 MiB hugepages and mounts hugetlbfs (virtio_user shares its memory from there); null, or why not.</summary>
    internal static string? Hugepages()
    {
        if (Environment.UserName != "root")
        {
            return "needs root (hugepages)";
        }

        if (!File.Exists("/usr/bin/dpdk-testpmd"))
        {
            return "needs dpdk-testpmd (Debian: dpdk-dev)";
        }

        try
        {
            if (int.Parse(File.ReadAllText("/proc/sys/vm/nr_hugepages").Trim(), System.Globalization.CultureInfo.InvariantCulture) < 512)
            {
                File.WriteAllText("/proc/sys/vm/nr_hugepages", "512");
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "cannot reserve hugepages: " + e.Message;
        }

        if (!File.ReadAllText("/proc/mounts").Contains(" hugetlbfs ", StringComparison.Ordinal))
        {
            Directory.CreateDirectory("/dev/hugepages");
            using Process mount = Process.Start("mount", ["-t", "hugetlbfs", "nodev", "/dev/hugepages"]);
            mount.WaitForExit();
            if (mount.ExitCode != 0)
            {
                return "cannot mount hugetlbfs";
            }
        }

        return null;
    }

    private string Log => string.Join('\n', _log.TakeLast(40));

    /// <summary>With two queue pairs, each of our workers' pairs is one of the driver's: frames go out on both and come back on the pair they left by.</summary>
    [SkippableTheory]
    [InlineData(1)]
    [InlineData(2)]
    public void Frames_go_to_a_dpdk_virtio_driver_and_come_back_mac_swapped(int pairs)
    {
        string? why = Hugepages();
        Skip.If(why is not null, why);
        using var pool = new PacketPool(4096);
        string socket = Path.Combine(_dir, "vhost.sock");
        using var port = new VhostPort(new PortSpec(0, "vm0", pairs, 256, 256, 10), pool, socket);
        var psi = new ProcessStartInfo("/usr/bin/stdbuf", ["-oL", "/usr/bin/dpdk-testpmd", "-m", "256", "-l", "0-1", "--no-pci", "--single-file-segments", "--in-memory", "--iova-mode=va",
            "--file-prefix", $"snic-vu-{Environment.ProcessId}", $"--vdev=net_virtio_user0,path={socket},queues={pairs}", "--",
            "--forward-mode=macswap", "--no-mlockall", "--total-num-mbufs=4096", $"--rxq={pairs}", $"--txq={pairs}"])
        { RedirectStandardInput = true };
        _testpmd = LoggedProcess.Start(psi, _log);
        Assert.True(SpinWait.SpinUntil(() => port.LinkUp || _testpmd.HasExited, 30_000), $"the driver did not bring the rings up (last error {port.Backend.LastError}, ignored messages {port.Backend.Ignored}):\n{Log}");
        const ulong Mq = 1UL << 22; // negotiated only when the driver runs several pairs
        ulong expected = pairs > 1 ? VhostUserBackend.Features : VhostUserBackend.Features & ~Mq;
        Assert.Equal(expected, port.Backend.Negotiated & VhostUserBackend.Features);
        // Its forwarding starts after its link check; frames sent before then could meet a ring it is still resetting.
        Assert.True(SpinWait.SpinUntil(() => _log.Any(l => l.Contains("Press enter to exit", StringComparison.Ordinal)), 30_000), Log);

        const int Count = 64;
        var sent = new List<byte[]>();
        var frames = new PacketRef[Count];
        Assert.Equal(Count, pool.AllocBulk(frames));
        for (int i = 0; i < Count; i++)
        {
            int length = 60 + (i * 23 % 1400); // up to 1459 bytes: some frames span more than one of its buffers
            frames[i].SetLength(length);
            Span<byte> d = frames[i].Data;
            d.Fill((byte)i);
            d[..6].Fill(0xbb);   // destination
            d[6..12].Fill(0xaa); // source
            d[12] = 0x88;
            d[13] = 0xb5;
            sent.Add(d.ToArray());
        }

        // Frame i leaves by pair i % pairs; each pair keeps its own order.
        var perPair = Enumerable.Range(0, pairs).Select(q => Enumerable.Range(0, Count).Where(i => i % pairs == q).Select(i => frames[i]).ToArray()).ToArray();
        var offered = new int[pairs];
        var got = Enumerable.Range(0, pairs).Select(_ => new List<byte[]>()).ToArray();
        var burst = new PacketRef[32];
        var clock = Stopwatch.StartNew();
        while (got.Sum(g => g.Count) < Count && clock.Elapsed < TimeSpan.FromSeconds(20))
        {
            for (int q = 0; q < pairs; q++)
            {
                if (offered[q] < perPair[q].Length)
                {
                    offered[q] += port.TxQueue(q).TxBurst(perPair[q].AsSpan(offered[q], Math.Min(16, perPair[q].Length - offered[q])));
                }

                int n = port.RxQueue(q).RxBurst(burst);
                for (int i = 0; i < n; i++)
                {
                    got[q].Add(burst[i].Data.ToArray());
                }

                pool.FreeBulk(burst.AsSpan(0, n));
            }
        }

        for (int q = 0; q < pairs; q++)
        {
            pool.FreeBulk(perPair[q].AsSpan(offered[q]));
            Assert.True(got[q].Count == perPair[q].Length, $"pair {q}: {got[q].Count} of {perPair[q].Length} came back (offered {offered[q]});\n{Log}");
            for (int k = 0; k < got[q].Count; k++)
            {
                int i = (k * pairs) + q;
                byte[] want = (byte[])sent[i].Clone();
                want.AsSpan(0, 6).Fill(0xaa); // macswap: the destination is the old source ...
                want.AsSpan(6, 6).Fill(0xbb); // ... and the source the old destination
                Assert.True(want.AsSpan().SequenceEqual(got[q][k]), $"frame {i} ({sent[i].Length} bytes) differs");
            }
        }

        PortCounters c = port.ReadCounters();
        Assert.Equal(Count, c.TxPackets);
        Assert.Equal(Count, c.RxPackets);
        Assert.Equal(pool.BufferCount, pool.Available);
    }
}

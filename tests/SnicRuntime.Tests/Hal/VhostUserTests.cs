using System.Collections.Concurrent;
using System.Diagnostics;
using SnicRuntime.Hal;
using SnicRuntime.Hal.Virtio;
using Xunit;

namespace SnicRuntime.Tests.Hal;

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

    [SkippableFact]
    public void Frames_go_to_a_dpdk_virtio_driver_and_come_back_mac_swapped()
    {
        string? why = Hugepages();
        Skip.If(why is not null, why);
        using var pool = new PacketPool(4096);
        string socket = Path.Combine(_dir, "vhost.sock");
        using var port = new VhostPort(new PortSpec(0, "vm0", 1, 256, 256, 10), pool, socket);
        var psi = new ProcessStartInfo("/usr/bin/stdbuf", ["-oL", "/usr/bin/dpdk-testpmd", "-m", "256", "-l", "0-1", "--no-pci", "--single-file-segments", "--in-memory", "--iova-mode=va",
            "--file-prefix", $"snic-vu-{Environment.ProcessId}", $"--vdev=net_virtio_user0,path={socket},queues=1", "--",
            "--forward-mode=macswap", "--no-mlockall", "--total-num-mbufs=4096"])
        { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        _testpmd = Process.Start(psi)!;
        _testpmd.OutputDataReceived += (_, e) => { if (e.Data is not null) { _log.Enqueue(e.Data); } };
        _testpmd.ErrorDataReceived += (_, e) => { if (e.Data is not null) { _log.Enqueue(e.Data); } };
        _testpmd.BeginOutputReadLine();
        _testpmd.BeginErrorReadLine();
        Assert.True(SpinWait.SpinUntil(() => port.LinkUp || _testpmd.HasExited, 30_000), $"the driver did not bring the rings up (last error {port.Backend.LastError}, ignored messages {port.Backend.Ignored}):\n{Log}");
        Assert.Equal(VhostUserBackend.Features, port.Backend.Negotiated & VhostUserBackend.Features);
        // Its forwarding starts after its link check; frames sent before then could meet a ring it is still resetting.
        Assert.True(SpinWait.SpinUntil(() => _log.Any(l => l.Contains("Press enter to exit", StringComparison.Ordinal)), 30_000), Log);

        VhostTxQueue tx = port.TxQueue(0);
        VhostRxQueue rx = port.RxQueue(0);
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

        int offered = 0;
        var got = new List<byte[]>();
        var burst = new PacketRef[32];
        var clock = Stopwatch.StartNew();
        while (got.Count < Count && clock.Elapsed < TimeSpan.FromSeconds(20))
        {
            if (offered < Count)
            {
                offered += tx.TxBurst(frames.AsSpan(offered, Math.Min(16, Count - offered)));
            }

            int n = rx.RxBurst(burst);
            for (int i = 0; i < n; i++)
            {
                got.Add(burst[i].Data.ToArray());
            }

            pool.FreeBulk(burst.AsSpan(0, n));
        }

        pool.FreeBulk(frames.AsSpan(offered));
        Assert.True(got.Count == Count, $"{got.Count} of {Count} came back (offered {offered});\n{Log}");
        for (int i = 0; i < Count; i++)
        {
            byte[] want = (byte[])sent[i].Clone();
            want.AsSpan(0, 6).Fill(0xaa); // macswap: the destination is the old source ...
            want.AsSpan(6, 6).Fill(0xbb); // ... and the source the old destination
            Assert.True(want.AsSpan().SequenceEqual(got[i]), $"frame {i} ({sent[i].Length} bytes) differs");
        }

        PortCounters c = port.ReadCounters();
        Assert.Equal(Count, c.TxPackets);
        Assert.Equal(Count, c.RxPackets);
        Assert.Equal(pool.BufferCount, pool.Available);
    }
}

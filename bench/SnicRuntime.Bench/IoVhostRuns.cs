using System.Diagnostics;
using System.Globalization;
using SnicRuntime.Hal;
using SnicRuntime.Hal.Virtio;

namespace SnicRuntime.Bench;

/// <summary>
/// `io vhost`: packets per second our vhost-user backend receives from dpdk-testpmd's virtio_user
/// in txonly mode, beside DPDK's own vhost backend (net_vhost in testpmd, rxonly) fed the same way
/// (the peer), 64-byte and 1500-byte frames. Needs root (hugepages) and dpdk-testpmd.
/// </summary>
internal static class IoVhostRuns
{
    public static List<(string Line, string Json)> Run(double seconds)
    {
        var results = new List<(string, string)>();
        if (!File.Exists("/usr/bin/dpdk-testpmd") || Environment.UserName != "root")
        {
            Console.Error.WriteLine("io vhost: skipped: needs root (hugepages) and dpdk-testpmd");
            return results;
        }

        File.WriteAllText("/proc/sys/vm/nr_hugepages", "512");
        if (!File.ReadAllText("/proc/mounts").Contains(" hugetlbfs ", StringComparison.Ordinal))
        {
            Directory.CreateDirectory("/dev/hugepages");
            Process.Start("mount", ["-t", "hugetlbfs", "nodev", "/dev/hugepages"]).WaitForExit();
        }

        string dir = Directory.CreateTempSubdirectory("snic-io-vhost-").FullName;
        try
        {
            foreach (int size in new[] { 64, 1500 })
            {
                double ours = Ours(Path.Combine(dir, $"ours{size}.sock"), size, seconds);
                double peer = Peer(Path.Combine(dir, $"peer{size}.sock"), size, seconds);
                string o = ours.ToString("F3", CultureInfo.InvariantCulture), p = peer.ToString("F3", CultureInfo.InvariantCulture);
                results.Add(($"io vhost virtio_user-{size}B mpps={o} peer_mpps={p}",
                    $"  {{\"driver\": \"vhost\", \"case\": \"virtio_user-{size}B\", \"mpps\": {o}, \"peer_mpps\": {p}, \"peer\": \"dpdk-testpmd net_vhost rxonly\"}}"));
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }

        return results;
    }

    private static double Ours(string socket, int size, double seconds)
    {
        using var pool = new PacketPool(8192, dataRoom: 2048);
        using var port = new VhostPort(new PortSpec(0, "vm", 1, 1024, 1024, 10), pool, socket);
        using TestPmd driver = Peer("vu", $"--vdev=net_virtio_user0,path={socket},queues=1", "txonly", size, "0");
        SpinWait.SpinUntil(() => port.LinkUp, 30_000);
        VhostRxQueue rx = port.RxQueue(0);
        var burst = new PacketRef[32];
        var clock = Stopwatch.StartNew();
        long received = 0;
        while (clock.Elapsed.TotalSeconds < seconds)
        {
            int n = rx.RxBurst(burst);
            received += n;
            pool.FreeBulk(burst.AsSpan(0, n));
        }

        return received / clock.Elapsed.TotalSeconds / 1e6;
    }

    private static double Peer(string socket, int size, double seconds)
    {
        using TestPmd backend = Peer("vh", $"--vdev=net_vhost0,iface={socket},queues=1", "rxonly", size, "1", stats: true);
        Thread.Sleep(1500);
        using TestPmd driver = Peer("vu2", $"--vdev=net_virtio_user0,path={socket},queues=1", "txonly", size, "0");
        Thread.Sleep((int)(seconds * 1000) + 2500);
        driver.Stop();
        return TestPmd.MedianRxMpps(backend.Stop());
    }

    private static TestPmd Peer(string prefix, string vdev, string mode, int size, string mainCore, bool stats = false) =>
        new(["-m", "256", "-l", "0-1", "--main-lcore", mainCore, "--no-pci", "--single-file-segments", "--in-memory", "--iova-mode=va",
                "--file-prefix", $"snic-io-{prefix}-{Environment.ProcessId}", vdev],
            [$"--forward-mode={mode}", "--no-mlockall", "--total-num-mbufs=8192", $"--txpkts={size}", .. (stats ? new[] { "--stats-period", "1" } : [])]);
}

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
        using Process driver = TestPmd("vu", $"--vdev=net_virtio_user0,path={socket},queues=1", "txonly", size, "0");
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

        double mpps = received / clock.Elapsed.TotalSeconds / 1e6;
        Stop(driver);
        return mpps;
    }

    private static double Peer(string socket, int size, double seconds)
    {
        using Process backend = TestPmd("vh", $"--vdev=net_vhost0,iface={socket},queues=1", "rxonly", size, "1", stats: true);
        Thread.Sleep(1500);
        using Process driver = TestPmd("vu2", $"--vdev=net_virtio_user0,path={socket},queues=1", "txonly", size, "0");
        Thread.Sleep((int)(seconds * 1000) + 2500);
        Stop(driver);
        List<string> output = Stop(backend);
        var rates = output.Where(l => l.TrimStart().StartsWith("Rx-pps:", StringComparison.Ordinal))
            .Select(l => double.Parse(l.Split(':', StringSplitOptions.TrimEntries)[1].Split(' ')[0], CultureInfo.InvariantCulture))
            .Where(r => r > 0).Order().ToList();
        return rates.Count == 0 ? 0 : rates[rates.Count / 2] / 1e6;
    }

    private static readonly Dictionary<Process, List<string>> s_output = [];

    private static Process TestPmd(string prefix, string vdev, string mode, int size, string mainCore, bool stats = false)
    {
        var args = new List<string> { "-oL", "/usr/bin/dpdk-testpmd", "-m", "256", "-l", "0-1", "--main-lcore", mainCore, "--no-pci", "--single-file-segments", "--in-memory",
            "--file-prefix", $"snic-io-{prefix}-{Environment.ProcessId}", vdev, "--", $"--forward-mode={mode}", "--no-mlockall",
            "--total-num-mbufs=8192", $"--txpkts={size}" };
        if (stats)
        {
            args.AddRange(["--stats-period", "1"]);
        }

        var psi = new ProcessStartInfo("/usr/bin/stdbuf", args) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        Process p = Process.Start(psi)!;
        var lines = new List<string>();
        s_output[p] = lines;
        p.OutputDataReceived += (_, e) => { if (e.Data is not null) { lock (lines) { lines.Add(e.Data); } } };
        p.ErrorDataReceived += (_, _) => { };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return p;
    }

    private static List<string> Stop(Process p)
    {
        if (!p.HasExited)
        {
            _ = Kill(p.Id, 2);
            if (!p.WaitForExit(15_000))
            {
                p.Kill();
            }

            p.WaitForExit();
        }

        List<string> lines = s_output[p];
        lock (lines)
        {
            return [.. lines];
        }
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill")]
    private static extern int Kill(int pid, int signal);
}

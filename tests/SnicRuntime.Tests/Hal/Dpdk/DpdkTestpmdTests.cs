using SnicRuntime.TestKit;
using System.Collections.Concurrent;
using System.Diagnostics;
using SnicRuntime.Hal.Dpdk;
using Xunit;

namespace SnicRuntime.Tests.Hal.Dpdk;

/// <summary>
/// The DPDK driver against DPDK's own dpdk-testpmd: the NativeAOT firmware runs on a DPDK board
/// (a memif port to testpmd, a tap port to the kernel) cross-connecting its ports; scapy's frames
/// enter through the tap, cross to testpmd over memif, come back MAC-swapped by testpmd, and leave
/// through the tap again — both directions through our driver and theirs. Needs root (tap),
/// libdpdk (the shim) and dpdk-testpmd; ./test.sh --system installs them.
/// </summary>
[Collection("processes")]
[Trait("Category", "System")]
public sealed class DpdkTestpmdTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("snic-dpdk-").FullName;
    private readonly ConcurrentQueue<string> _log = new();
    private readonly List<Process> _processes = [];

    public void Dispose()
    {
        foreach (Process p in _processes.Where(p => !p.HasExited))
        {
            p.Kill(entireProcessTree: true);
            p.WaitForExit(10_000);
        }

        Directory.Delete(_dir, recursive: true);
    }

    private static string? Unavailable()
    {
        if (Environment.UserName != "root")
        {
            return "needs root (a tap interface)";
        }

        if (!File.Exists("/usr/bin/dpdk-testpmd"))
        {
            return "needs dpdk-testpmd (Debian: dpdk-dev)";
        }

        try
        {
            DpdkEal.EnsureShim();
        }
        catch (DpdkException e)
        {
            return e.Message;
        }

        return File.Exists(SnicRuntime.Tests.Host.Snicctl.SnicctlFlashTests.AotFirmware) ? null : $"needs the NativeAOT firmware at {SnicRuntime.Tests.Host.Snicctl.SnicctlFlashTests.AotFirmware}";
    }

    private Process Start(string file, IEnumerable<string> args, string name, bool stdin = false)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = stdin };
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        Process p = LoggedProcess.Start(psi, _log, $"{name}: ");
        _processes.Add(p);
        return p;
    }

    private string Log => string.Join('\n', _log.TakeLast(60));

    [SkippableFact]
    public void Frames_cross_our_dpdk_ports_to_testpmd_over_memif_and_back()
    {
        string? why = Unavailable();
        Skip.If(why is not null, why);
        string tap = $"snictap{Environment.ProcessId % 10000}";
        string socket = Path.Combine(_dir, "memif.sock");
        string board = Path.Combine(_dir, "board.json");
        File.WriteAllText(board, $$"""
            {
              "id": "dpdk-memif-tap", "vendor": "SnicRuntime", "model": "test board", "sources": ["a test board: DPDK memif to testpmd, tap to the kernel"],
              "cpu": { "architecture": "x86-64", "model": "host", "dataplaneCores": 1 },
              "memory": { "totalMiB": 1024, "packetBuffers": 8192 },
              "ports": [ { "name": "uplink0", "speedGbps": 10, "device": "net_memif0" }, { "name": "host0", "speedGbps": 10, "device": "net_tap0" } ],
              "queues": { "rxDepth": 1024, "txDepth": 1024, "burst": 32 },
              "hal": { "driver": "dpdk", "args": { "eal": "--no-huge --no-pci --no-shconf --no-telemetry -m 512 -l 0 --vdev=net_memif0,role=server,socket={{socket}} --vdev=net_tap0,iface={{tap}}" } },
              "runtimeIdentifier": "linux-x64", "supported": ["dpdk"]
            }
            """);
        Process firmware = Start(SnicRuntime.Tests.Host.Snicctl.SnicctlFlashTests.AotFirmware, ["--board", board, "--stage", "forward", "--seconds", "25"], "firmware");
        Assert.True(SpinWait.SpinUntil(() => _log.Any(l => l.Contains("workers on uplink0", StringComparison.Ordinal)) || firmware.HasExited, 20_000), Log);
        Assert.False(firmware.HasExited, Log);

        // stdbuf: testpmd's stdout is a pipe here, and its "Press enter to exit" must arrive before it exits.
        Process testpmd = Start("/usr/bin/stdbuf", ["-oL", "/usr/bin/dpdk-testpmd", "--no-huge", "--no-pci", "-m", "1024", "-l", "0-1", "--file-prefix", $"snic-testpmd-{Environment.ProcessId}",
            $"--vdev=net_memif0,role=client,socket={socket}", "--", "--forward-mode=macswap", "--no-mlockall", "--total-num-mbufs=8192"], "testpmd", stdin: true);
        Assert.True(SpinWait.SpinUntil(() => _log.Any(l => l.Contains("Press enter to exit", StringComparison.Ordinal)) || testpmd.HasExited, 30_000), Log);

        using (Process scapy = Process.Start(new ProcessStartInfo("/usr/bin/python3",
            [Path.Combine(TestPaths.RepoRoot, "tests", "hal", "tap_macswap.py"), tap, "20"]) { RedirectStandardOutput = true, RedirectStandardError = true })!)
        {
            string output = scapy.StandardOutput.ReadToEnd() + scapy.StandardError.ReadToEnd();
            Assert.True(scapy.WaitForExit(60_000));
            Assert.True(scapy.ExitCode == 0, $"{output}\n{Log}");
            Assert.Contains("swapped 20", output);
        }

        testpmd.StandardInput.WriteLine(); // "Press enter to exit": it prints its statistics and closes the port
        Assert.True(testpmd.WaitForExit(30_000), Log);
        testpmd.WaitForExit();
        string rx = _log.First(l => l.StartsWith("testpmd:   RX-packets:", StringComparison.Ordinal));
        long testpmdRx = long.Parse(rx.Split(':', StringSplitOptions.TrimEntries)[2].Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(testpmdRx >= 20, Log);

        _ = Kill(firmware.Id, 15);
        Assert.True(firmware.WaitForExit(30_000), Log);
        firmware.WaitForExit();
        Assert.Equal(0, firmware.ExitCode);
        string uplink = _log.Last(l => l.Contains("port uplink0: rx", StringComparison.Ordinal));
        Assert.Matches(@"port uplink0: rx (\d+) .* tx (\d+)", uplink);
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill")]
    private static extern int Kill(int pid, int signal);
}

using SnicRuntime.TestKit;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using SnicRuntime.Management.Images;
using Xunit;

namespace SnicRuntime.Tests.Host.Snicctl;

/// <summary>
/// The QEMU virtual boards end to end, qemu-x64 and qemu-arm64 (slow: a software-emulated machine
/// boots; CI runs them with the system tests): build the image, boot it with <c>snicctl qemu run</c> (enrolled, mutual TLS),
/// apply the VNET-to-VNET plan, send scapy's DASH cases into its uplink over the socket netdev,
/// check what comes back with scapy, read the counters with <c>snicctl stats</c>, flash a new
/// version into it, and power it off.
/// </summary>
[Collection("processes")]
[Trait("Category", "System")]
public sealed class QemuBoardTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("snic-qemu-").FullName;
    private readonly ConcurrentQueue<string> _log = new();
    private Process? _run;

    public void Dispose()
    {
        if (_run is { HasExited: false })
        {
            _run.Kill(entireProcessTree: true);
            _run.WaitForExit(10_000);
        }

        Directory.Delete(_dir, recursive: true);
    }

    private string[] Args(params string[] args) => [.. args, "--state", Path.Combine(_dir, "state")];

    private static int FreeTcpPort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    /// <summary>A base port with four free UDP ports after it (two per board port).</summary>
    private static int FreeUdpBase()
    {
        for (int attempt = 0; attempt < 50; attempt++)
        {
            int b = Random.Shared.Next(20_000, 60_000) & ~3;
            var sockets = new List<Socket>();
            try
            {
                for (int i = 0; i < 4; i++)
                {
                    var s = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
                    sockets.Add(s);
                    s.Bind(new IPEndPoint(IPAddress.Loopback, b + i));
                }

                return b;
            }
            catch (SocketException)
            {
            }
            finally
            {
                sockets.ForEach(s => s.Dispose());
            }
        }

        throw new InvalidOperationException("no four free UDP ports");
    }

    private string Log => string.Join('\n', _log.TakeLast(40));

    /// <param name="bootRoot">null: this host's kernel, busybox and libraries; else a root of the board's architecture (boards/qemu/arm64-root.sh).</param>
    [SkippableTheory]
    [InlineData("qemu-x64", "x86-64", "linux-x64", null)]
    [InlineData("qemu-arm64", "arm64", "linux-arm64", "out/boot-roots/arm64")]
    public void A_qemu_card_boots_takes_a_plan_forwards_dash_traffic_reports_counters_and_is_flashed(string board, string architecture, string rid, string? bootRoot)
    {
        string firmware = Path.Combine(TestPaths.RepoRoot, "out", "firmware", rid);
        string root = bootRoot is null ? "/" : Path.Combine(TestPaths.RepoRoot, bootRoot);
        Skip.IfNot(File.Exists(Path.Combine(firmware, "snic-firmware")), $"needs the {rid} NativeAOT firmware in {firmware} (./firmware/publish.sh {rid}; ./test.sh --system does it)");
        Skip.If(QemuMachine.Emulator(architecture, out string? noQemu) is null, noQemu ?? "");
        Skip.If(BootMedia.FindKernel(out string? noKernel, root) is null, noKernel ?? "");
        Skip.If(BootMedia.FindBusybox(out string? noBusybox, root) is null, noBusybox ?? "");
        var clock = Stopwatch.StartNew();
        string image = Path.Combine(_dir, board + ".snimg");
        string[] build = ["image", "build", "--board", board, "--firmware", firmware, "--version", "1.0.0-qemu-test", "--out", image];
        var r = SnicctlProcess.Run(Args(bootRoot is null ? build : [.. build, "--boot-root", root]));
        Assert.True(r.Code == 0, r.Out + r.Err);
        Assert.Contains("boot media: kernel", r.Out);

        int agent = FreeTcpPort();
        int udp = FreeUdpBase();
        _run = SnicctlProcess.Start(_log, Args("qemu", "run", image, "--name", "vm1", "--agent-port", agent.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--udp-port", udp.ToString(System.Globalization.CultureInfo.InvariantCulture), "--seconds", "400", "--boot-timeout", "240"));
        while (!_log.Any(l => l.Contains("card 'vm1' up after", StringComparison.Ordinal)))
        {
            Assert.False(_run.HasExited, $"snicctl qemu run exited:\n{Log}");
            Assert.True(clock.Elapsed < TimeSpan.FromMinutes(5), $"the VM did not come up:\n{Log}");
            Thread.Sleep(250);
        }

        Assert.Contains(_log, l => l.Contains($"port uplink0: send frames as UDP datagrams to 127.0.0.1:{udp};", StringComparison.Ordinal));

        // The plan goes through the journal to the card's agent over mutual TLS.
        r = SnicctlProcess.Run(Args("apply", SnicctlProcess.Plan("vnet-to-vnet.json")));
        Assert.True(r.Code == 0, r.Out + r.Err);
        Assert.Contains("vm1: acked", r.Out);

        // scapy's VNET-to-VNET cases in through the uplink; what comes out is checked by scapy.
        string capture = Path.Combine(_dir, "capture");
        Directory.CreateDirectory(capture);
        var psi = new ProcessStartInfo("/usr/bin/python3", [Path.Combine(TestPaths.RepoRoot, "tests", "pipeline", "vnet_to_vnet.py"), "udp",
            udp.ToString(System.Globalization.CultureInfo.InvariantCulture), (udp + 1).ToString(System.Globalization.CultureInfo.InvariantCulture), capture])
        { RedirectStandardOutput = true, RedirectStandardError = true };
        using (Process check = Process.Start(psi)!)
        {
            string output = check.StandardOutput.ReadToEnd() + check.StandardError.ReadToEnd();
            Assert.True(check.WaitForExit(120_000), "the scapy check did not finish");
            Assert.True(check.ExitCode == 0, $"{output}\n{Log}");
            Assert.Contains("ok: 4 packets checked", output);
        }

        // Counters through snicctl: the four drops by reason the cases provoke, and the forwarded packets.
        r = SnicctlProcess.Run(Args("stats", "vm1", "--json"));
        Assert.True(r.Code == 0, r.Out + r.Err);
        string text = JsonDocument.Parse(r.Out).RootElement.GetRawText().Replace(" ", "", StringComparison.Ordinal).Replace("\n", "", StringComparison.Ordinal);
        foreach (string reason in new[] { "NotToVip", "RouteMiss", "MappingMiss", "NoFlow" })
        {
            Assert.Contains($"\"{reason}\":1", text);
        }

        // A new version flashed into the VM: verified on the card, committed after its trial boot,
        // and the plan delivered again to the restarted firmware.
        string v2 = Path.Combine(_dir, board + "-v2.snimg");
        string[] build2 = ["image", "build", "--board", board, "--firmware", firmware, "--version", "2.0.0-qemu-test", "--out", v2];
        Assert.Equal(0, SnicctlProcess.Run(Args(bootRoot is null ? build2 : [.. build2, "--boot-root", root])).Code);
        r = SnicctlProcess.Run(Args("flash", "vm1", v2, "--wait", "180"));
        Assert.True(r.Code == 0, $"{r.Out}{r.Err}\n{Log}");
        Assert.True(r.Out.Contains("runs slot a (2.0.0-qemu-test): a committed (2.0.0-qemu-test)", StringComparison.Ordinal), r.Out);
        Assert.True(r.Out.Contains("card 'vm1': generation 1", StringComparison.Ordinal), r.Out);

        // Power off: SIGTERM to snicctl qemu run stops the machine.
        _ = Kill(_run.Id, 15);
        Assert.True(_run.WaitForExit(30_000), Log);
        _run.WaitForExit(); // and its output read to the end
        Assert.Contains(_log, l => l.Contains("card 'vm1': powering off", StringComparison.Ordinal));
        Assert.True(clock.Elapsed < TimeSpan.FromMinutes(8), $"took {clock.Elapsed}");
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill")]
    private static extern int Kill(int pid, int signal);
}

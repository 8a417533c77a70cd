using SnicRuntime.Tests.Hal.Core;
using System.Diagnostics;
using SnicRuntime.Hal;
using SnicRuntime.Hal.Virtio;

namespace SnicRuntime.Tests.Hal.Virtio;

/// <summary>
/// The driver contract on the vhost-user backend: the loop runs through a real virtio driver —
/// dpdk-testpmd's virtio_user in io mode sends back, unchanged, every frame our tx queue puts in
/// its receive ring. Needs root (hugepages) and dpdk-testpmd (a system test; CI runs it).
/// </summary>
[Xunit.Trait("Category", "System")]
[Xunit.Collection("processes")]
public sealed class VhostQueueContractTests : RxTxQueueContract<VhostRxQueue, VhostTxQueue>
{
    private static readonly string? s_unavailable = SnicRuntime.Tests.Hal.Virtio.VhostUserTests.Hugepages();
    private readonly string _dir = Directory.CreateTempSubdirectory("snic-vhost-contract-").FullName;
    private VhostPort? _port;
    private Process? _driver;

    protected override string? Unavailable => s_unavailable;

    protected override (VhostTxQueue Tx, VhostRxQueue Rx, IPort TxPort, IPort RxPort) OpenLoop(int depth)
    {
        string socket = Path.Combine(_dir, "loop.sock");
        _port = new VhostPort(new PortSpec(0, "vm", 1, depth, depth, 10), Pool, socket);
        bool forwarding = false;
        _driver = Process.Start(new ProcessStartInfo("/usr/bin/stdbuf", ["-oL", "/usr/bin/dpdk-testpmd", "-m", "256", "-l", "0-1", "--no-pci", "--single-file-segments", "--in-memory", "--iova-mode=va",
            "--file-prefix", $"snic-vc-{Environment.ProcessId}", $"--vdev=net_virtio_user0,path={socket},queues=1", "--",
            "--forward-mode=io", "--no-mlockall", "--total-num-mbufs=4096"])
        { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true })!;
        _driver.OutputDataReceived += (_, e) => forwarding |= e.Data?.Contains("Press enter to exit", StringComparison.Ordinal) == true;
        _driver.ErrorDataReceived += (_, _) => { };
        _driver.BeginOutputReadLine();
        _driver.BeginErrorReadLine();
        if (!SpinWait.SpinUntil(() => _port.LinkUp || _driver.HasExited, 30_000))
        {
            throw new InvalidOperationException("testpmd's virtio_user did not bring the rings up");
        }

        // Its forwarding starts after its link check: frames sent before could meet a ring it is still resetting.
        if (!SpinWait.SpinUntil(() => Volatile.Read(ref forwarding), 30_000))
        {
            throw new InvalidOperationException("testpmd did not start forwarding");
        }
        return (_port.TxQueue(0), _port.RxQueue(0), _port, _port);
    }

    protected override void SetLink(bool up) => _port!.SetLink(up);

    protected override void Deliver() => Thread.Sleep(1); // another process forwards

    public override void Dispose()
    {
        if (_driver is { HasExited: false })
        {
            _driver.Kill();
            _driver.WaitForExit(10_000);
        }

        _driver?.Dispose();
        _port?.Dispose();
        Directory.Delete(_dir, recursive: true);
        base.Dispose();
    }
}

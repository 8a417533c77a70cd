using SnicRuntime.Contracts.Images;
using System.Diagnostics;
using System.Security.Cryptography;
using SnicRuntime.Hal.Board;

namespace SnicRuntime.Management.Images;

/// <summary>How a QEMU card's dataplane port meets the host: one UDP socket pair per port (QEMU's socket netdev).</summary>
/// <param name="ToVm">Host sends a frame to the VM as one datagram to 127.0.0.1:ToVm.</param>
/// <param name="FromVm">The VM's frames arrive as datagrams at 127.0.0.1:FromVm.</param>
public sealed record QemuPort(string Name, int ToVm, int FromVm);

/// <summary>
/// A QEMU virtual board booted from a signed image: software emulation (TCG), the image's kernel
/// and initramfs with the card's enrollment credentials laid over it as a second cpio archive,
/// a virtio-net NIC for management (user networking, the agent forwarded to a loopback port) and
/// one virtio-net NIC per board port on a UDP socket netdev.
/// </summary>
public sealed class QemuMachine : IDisposable
{
    private readonly Process _qemu;

    private QemuMachine(Process qemu, string runDirectory, Uri agent, IReadOnlyList<QemuPort> ports, string console)
    {
        _qemu = qemu;
        RunDirectory = runDirectory;
        Agent = agent;
        Ports = ports;
        ConsoleLog = console;
    }

    public string RunDirectory { get; }

    public Uri Agent { get; }

    public IReadOnlyList<QemuPort> Ports { get; }

    /// <summary>The VM's serial console (kernel, init and firmware output).</summary>
    public string ConsoleLog { get; }

    public bool HasExited => _qemu.HasExited;

    public int ExitCode => _qemu.ExitCode;

    public Process Process => _qemu;

    /// <summary>qemu-system for an architecture, or null with the Debian package to install.</summary>
    public static string? Emulator(string architecture, out string? missing)
    {
        (string binary, string package) = architecture == "arm64" ? ("qemu-system-aarch64", "qemu-system-arm") : ("qemu-system-x86_64", "qemu-system-x86");
        string path = Path.Combine("/usr/bin", binary);
        missing = File.Exists(path) ? null : $"{binary} is not installed (Debian package {package})";
        return missing is null ? path : null;
    }

    /// <summary>Verifies the image, enrolls the card and boots it; returns once QEMU runs (the agent comes up later).</summary>
    public static QemuMachine Boot(string imagePath, IReadOnlyList<ECDsa> trusted, string runDirectory, string cardName, ManagementIdentity identity,
        int agentPort, int firstUdpPort, int memoryMiB)
    {
        ArgumentNullException.ThrowIfNull(identity);
        Directory.CreateDirectory(runDirectory);
        BoardDefinition board;
        string kernel = Path.Combine(runDirectory, "vmlinuz");
        string initrd = Path.Combine(runDirectory, "initrd.gz");
        using (FileStream image = File.OpenRead(imagePath))
        {
            VerifiedImage verified = ImageVerifier.Verify(image, trusted);
            if (!verified.Entries.TryGetValue(ImageLayout.Kernel, out var kernelEntry) || !verified.Entries.TryGetValue(ImageLayout.Initramfs, out var initrdEntry))
            {
                throw new ImageException([$"the image for board '{verified.Manifest.Board}' carries no boot media (only boards with the qemu-boot capability do)"]);
            }

            board = BoardLoader.Parse(System.Text.Encoding.UTF8.GetString(ImageArchive.Read(image, verified.Entries[ImageLayout.Board])), ImageLayout.Board);
            using (var k = new FileStream(kernel, FileMode.Create))
            {
                ImageArchive.CopyTo(image, kernelEntry, k);
            }

            using var i = new FileStream(initrd, FileMode.Create);
            ImageArchive.CopyTo(image, initrdEntry, i);
        }

        string emulator = Emulator(board.Cpu.Architecture, out string? missing) ?? throw new ImageException([missing!]);

        // Enrollment: the card's certificate and the authority, as a second archive the kernel
        // unpacks over the image's initramfs (the image stays the signed bytes).
        string credentials = Path.Combine(runDirectory, "credentials");
        identity.Enroll(cardName, credentials);
        using (var append = new FileStream(initrd, FileMode.Append))
        using (var cpio = new Cpio(append))
        {
            cpio.FileFrom("etc/snic/card.pem", Path.Combine(credentials, "card.pem"));
            cpio.FileFrom("etc/snic/ca.pem", Path.Combine(credentials, "ca.pem"));
        }

        var ports = new List<QemuPort>();
        for (int p = 0; p < board.Ports.Count; p++)
        {
            ports.Add(new QemuPort(board.Ports[p].Name, firstUdpPort + (2 * p), firstUdpPort + (2 * p) + 1));
        }

        string console = Path.Combine(runDirectory, "console.log");
        var psi = new ProcessStartInfo(emulator) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        var args = new List<string>
        {
            "-M", board.Cpu.Architecture == "arm64" ? "virt" : "q35",
            "-cpu", board.Cpu.Architecture == "arm64" ? "cortex-a57" : "max",
            "-smp", (board.Cpu.DataplaneCores + 1).ToString(System.Globalization.CultureInfo.InvariantCulture),
            "-m", memoryMiB.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "-display", "none", "-monitor", "none", "-no-reboot",
            "-serial", "file:" + console,
            "-kernel", kernel, "-initrd", initrd,
            "-append", (board.Cpu.Architecture == "arm64" ? "console=ttyAMA0" : "console=ttyS0") + " panic=-1 quiet",
            "-netdev", $"user,id=mgmt,restrict=on,hostfwd=tcp:127.0.0.1:{agentPort}-10.0.2.15:{BootMedia.AgentPort}",
            "-device", "virtio-net-pci,netdev=mgmt,mac=52:54:00:00:00:01",
        };
        foreach (QemuPort p in ports)
        {
            int n = ports.IndexOf(p);
            args.AddRange(["-netdev", $"socket,id=p{n},udp=127.0.0.1:{p.FromVm},localaddr=127.0.0.1:{p.ToVm}",
                "-device", $"virtio-net-pci,netdev=p{n},mac=52:54:00:00:01:{n + 1:x2}"]);
        }

        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        File.WriteAllText(Path.Combine(runDirectory, "qemu.cmdline"), emulator + " " + string.Join(' ', args.Select(a => a.Contains(' ', StringComparison.Ordinal) ? $"'{a}'" : a)) + "\n");
        Process qemu = Process.Start(psi)!;
        qemu.OutputDataReceived += (_, _) => { };
        qemu.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                File.AppendAllText(Path.Combine(runDirectory, "qemu.stderr"), e.Data + "\n");
            }
        };
        qemu.BeginOutputReadLine();
        qemu.BeginErrorReadLine();
        return new QemuMachine(qemu, runDirectory, new Uri($"https://127.0.0.1:{agentPort}/"), ports, console);
    }

    /// <summary>Waits until the card's agent answers (mutual TLS) or the VM stops; false on timeout or exit.</summary>
    public async Task<bool> WaitForAgent(Card card, ManagementIdentity identity, TimeSpan timeout, CancellationToken cancel)
    {
        using var client = new AgentClient(card, TimeSpan.FromSeconds(5), identity);
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout && !_qemu.HasExited && !cancel.IsCancellationRequested)
        {
            AgentReply reply = await client.Get("/v1/health", cancel).ConfigureAwait(false);
            if (reply.Ok)
            {
                return true;
            }

            await Task.Delay(500, cancel).ConfigureAwait(false);
        }

        return false;
    }

    /// <summary>Powers the machine off (there is no disk to flush: the card's state lives in RAM).</summary>
    public void Stop()
    {
        if (!_qemu.HasExited)
        {
            _qemu.Kill();
            _qemu.WaitForExit(10_000);
        }
    }

    public void Dispose()
    {
        Stop();
        _qemu.Dispose();
    }
}

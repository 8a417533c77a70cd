using SnicRuntime.Contracts.Images;
using System.Diagnostics;

namespace SnicRuntime.Management.Images;

/// <summary>
/// The boot media of a QEMU virtual board: the build host's Debian kernel and an initramfs in
/// which the firmware's boot supervisor is the system's main process — busybox for the few
/// commands init needs, the virtio modules from the kernel's own modules.dep, the shared
/// libraries the NativeAOT binary loads (libc, libm, and OpenSSL, which .NET opens at run time),
/// the image's files under /snic and the signer's public key as the card's trust.
/// </summary>
public static class BootMedia
{
    /// <summary>The modules a virtio-net NIC needs; their dependencies come from modules.dep.</summary>
    private static readonly string[] s_wanted = ["virtio_net", "virtio_pci"];

    /// <summary>Loaded by .NET with dlopen, so the binary's NEEDED entries do not show them.</summary>
    private static readonly string[] s_dlopened = ["libssl.so.3", "libcrypto.so.3"];

    public const string AgentPort = "9443";

    /// <summary>The newest kernel under ROOT/boot with its modules, or a message saying what to install.</summary>
    public static (string Kernel, string Modules)? FindKernel(out string? missing, string root = "/")
    {
        missing = null;
        string boot = Path.Combine(root, "boot");
        string[] kernels = System.IO.Directory.Exists(boot) ? System.IO.Directory.GetFiles(boot, "vmlinuz-*") : [];
        Array.Sort(kernels, StringComparer.Ordinal);
        for (int i = kernels.Length - 1; i >= 0; i--)
        {
            string version = Path.GetFileName(kernels[i])["vmlinuz-".Length..];
            string modules = Path.Combine(root, "lib", "modules", version);
            if (File.Exists(Path.Combine(modules, "modules.dep")))
            {
                return (kernels[i], modules);
            }
        }

        missing = root == "/" ? "no Linux kernel with modules under /boot and /lib/modules (install Debian's linux-image-amd64)"
            : $"no kernel with indexed modules under {root} (make it with boards/qemu/arm64-root.sh)";
        return null;
    }

    public static string? FindBusybox(out string? missing, string root = "/")
    {
        string path = Path.Combine(root, "bin", "busybox");
        missing = File.Exists(path) ? null : $"no {path} (install Debian's busybox-static{(root == "/" ? "" : ", or run boards/qemu/arm64-root.sh")})";
        return missing is null ? path : null;
    }

    /// <summary>Module files in load order (dependencies first), from modules.dep: the virtio-net NIC's, or <paramref name="wanted"/>.</summary>
    public static List<string> ModulesInLoadOrder(string modulesDir, IReadOnlyList<string>? wanted = null)
    {
        var deps = new Dictionary<string, string[]>(StringComparer.Ordinal);
        foreach (string line in File.ReadLines(Path.Combine(modulesDir, "modules.dep")))
        {
            int colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0)
            {
                deps[line[..colon]] = line[(colon + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            }
        }

        var order = new List<string>();
        void Visit(string module)
        {
            if (order.Contains(module))
            {
                return;
            }

            foreach (string d in deps.GetValueOrDefault(module, []))
            {
                Visit(d);
            }

            order.Add(module);
        }

        foreach (string name in wanted ?? s_wanted)
        {
            string? path = deps.Keys.FirstOrDefault(k => Path.GetFileName(k) is var f && (f == name + ".ko" || f.StartsWith(name + ".ko.", StringComparison.Ordinal)));
            if (path is null)
            {
                // Built into this kernel (=y): nothing to load.
                continue;
            }

            Visit(path);
        }

        return order;
    }

    /// <summary>
    /// The shared objects <paramref name="binary"/> needs, found under <paramref name="root"/>: its
    /// program interpreter and NEEDED entries (readelf, which reads an ELF of any machine, so an
    /// arm64 firmware's libraries resolve on this x86-64 host), OpenSSL, and theirs in turn.
    /// Returned as path in the initramfs → file on this machine.
    /// </summary>
    public static SortedDictionary<string, string> SharedLibraries(string binary, string root, string architecture)
    {
        string triplet = architecture == "arm64" ? "aarch64-linux-gnu" : "x86_64-linux-gnu";
        string[] directories = [$"lib/{triplet}", $"usr/lib/{triplet}", "lib", "lib64", "usr/lib"];
        var found = new SortedDictionary<string, string>(StringComparer.Ordinal);
        var queue = new Queue<string>();
        void Want(string name)
        {
            foreach (string d in directories)
            {
                string inImage = d + "/" + name;
                string onHost = Resolve(root, inImage);
                if (File.Exists(onHost))
                {
                    if (found.TryAdd(inImage, onHost))
                    {
                        queue.Enqueue(onHost);
                    }

                    return;
                }
            }

            throw new SnicRuntime.Contracts.Images.ImageException([$"boot media: {name} (needed by the firmware) is not under {root}"]);
        }

        (string? interpreter, List<string> needed) = ReadElf(binary);
        if (interpreter is not null)
        {
            found[interpreter.TrimStart('/')] = Resolve(root, interpreter.TrimStart('/'));
        }

        needed.ForEach(Want);
        foreach (string lib in s_dlopened)
        {
            Want(lib);
        }

        while (queue.Count > 0)
        {
            ReadElf(queue.Dequeue()).Needed.ForEach(Want);
        }

        return found;
    }

    /// <summary>A path inside <paramref name="root"/>, following symbolic links within it (an absolute link means root-relative).</summary>
    private static string Resolve(string root, string relative)
    {
        string path = Path.Combine(root, relative);
        for (int hops = 0; hops < 8 && new FileInfo(path).LinkTarget is string target; hops++)
        {
            path = target.StartsWith('/') ? Path.Combine(root, target.TrimStart('/')) : Path.Combine(Path.GetDirectoryName(path)!, target);
        }

        return path;
    }

    private static (string? Interpreter, List<string> Needed) ReadElf(string file)
    {
        var psi = new ProcessStartInfo("readelf", ["-d", "-l", "-W", file]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using Process p = Process.Start(psi)!;
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        string? interpreter = null;
        var needed = new List<string>();
        foreach (string line in output.Split('\n'))
        {
            int at = line.IndexOf("[Requesting program interpreter: ", StringComparison.Ordinal);
            if (at >= 0)
            {
                interpreter = line[(at + 33)..].TrimEnd(']', ' ');
            }

            at = line.IndexOf("(NEEDED)", StringComparison.Ordinal);
            int open = line.IndexOf('[', StringComparison.Ordinal);
            if (at >= 0 && open > at)
            {
                needed.Add(line[(open + 1)..line.IndexOf(']', open)]);
            }
        }

        return (interpreter, needed);
    }

    /// <summary>
    /// The init script: mount, load the virtio modules, bring up eth0 for management (QEMU user
    /// networking gives the guest 10.0.2.15), and run the boot supervisor as the main process.
    /// When it returns the machine powers off.
    /// </summary>
    public static string InitScript(IReadOnlyList<string> modules) => $$"""
        #!/bin/busybox sh
        /bin/busybox --install -s /bin
        export PATH=/bin NO_COLOR=1
        mount -t proc proc /proc
        mount -t sysfs sys /sys
        mount -t devtmpfs dev /dev
        mount -t tmpfs run /var/lib/snic
        for m in {{string.Join(' ', modules.Select(m => "/lib/modules/" + Path.GetFileName(m)))}}; do insmod "$m" || echo "snic-init: cannot load $m"; done
        ip link set lo up
        ip link set eth0 up
        ip addr add 10.0.2.15/24 dev eth0
        ip route add default via 10.0.2.2
        for i in eth1 eth2 eth3; do [ -e /sys/class/net/$i ] && ip link set $i up; done
        echo "snic-init: starting the firmware"
        /snic/bin/snic-firmware boot --slots /var/lib/snic/slots -- $(cat /etc/snic/firmware.args)
        echo "snic-init: firmware exited with code $?"
        poweroff -f
        """.Replace("\r", "", StringComparison.Ordinal) + "\n";

    /// <summary>The firmware options the card starts with in the VM (a card's overlay may replace them).</summary>
    public static string DefaultFirmwareArgs =>
        $"--agent {AgentPort} --agent-listen 10.0.2.15 --agent-tls /etc/snic --image-trust /etc/snic/image-trust.pem --seconds 86400 --plan-wait 86400\n";

    /// <summary>Writes the initramfs for an image's files (bin/, board.json, config/) to <paramref name="outPath"/>.</summary>
    public static void BuildInitramfs(string outPath, string root, string modulesDir, string busybox, IReadOnlyList<ImagePacker.Source> imageFiles,
        ImageManifest manifest, string trustPem)
    {
        ArgumentNullException.ThrowIfNull(imageFiles);
        string firmware = imageFiles.First(f => f.PathInImage == ImageLayout.Firmware).FromFile;
        List<string> modules = ModulesInLoadOrder(modulesDir);
        using var output = new FileStream(outPath, FileMode.Create, FileAccess.Write);
        using var cpio = new Cpio(output);
        foreach (string d in new[] { "bin", "dev", "proc", "sys", "tmp", "etc/snic", "var/lib/snic", "lib/modules" })
        {
            cpio.Directory(d);
        }

        cpio.FileFrom("bin/busybox", busybox, executable: true);
        cpio.File("init", InitScript(modules), executable: true);
        foreach (string m in modules)
        {
            cpio.FileFrom("lib/modules/" + Path.GetFileName(m), Path.Combine(modulesDir, m));
        }

        foreach ((string inImage, string onHost) in SharedLibraries(firmware, root, manifest.Architecture))
        {
            cpio.FileFrom(inImage, onHost, executable: true);
        }

        foreach (ImagePacker.Source f in imageFiles)
        {
            cpio.FileFrom("snic/" + f.PathInImage, f.FromFile, executable: f.PathInImage == ImageLayout.Firmware);
        }

        cpio.File("snic/" + ImageLayout.Manifest, manifest.ToJson());
        cpio.File("etc/snic/image-trust.pem", trustPem);
        cpio.File("etc/snic/firmware.args", DefaultFirmwareArgs);
    }
}

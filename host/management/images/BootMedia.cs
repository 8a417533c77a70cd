using System.Diagnostics;
using SnicRuntime.Firmware.Update;

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

    /// <summary>Loaded by .NET with dlopen, so ldd of the binary does not show them.</summary>
    private static readonly string[] s_dlopened = ["libssl.so.3", "libcrypto.so.3"];

    public const string AgentPort = "9443";

    /// <summary>The newest kernel under /boot with its modules, or a message saying what to install.</summary>
    public static (string Kernel, string Modules)? FindKernel(out string? missing)
    {
        missing = null;
        string[] kernels = System.IO.Directory.Exists("/boot") ? System.IO.Directory.GetFiles("/boot", "vmlinuz-*") : [];
        Array.Sort(kernels, StringComparer.Ordinal);
        for (int i = kernels.Length - 1; i >= 0; i--)
        {
            string version = Path.GetFileName(kernels[i])["vmlinuz-".Length..];
            string modules = Path.Combine("/lib/modules", version);
            if (File.Exists(Path.Combine(modules, "modules.dep")))
            {
                return (kernels[i], modules);
            }
        }

        missing = "no Linux kernel with modules under /boot and /lib/modules (install Debian's linux-image-amd64)";
        return null;
    }

    public static string? FindBusybox(out string? missing)
    {
        missing = File.Exists("/bin/busybox") ? null : "no /bin/busybox (install Debian's busybox-static)";
        return missing is null ? "/bin/busybox" : null;
    }

    /// <summary>Module files in load order (dependencies first), from modules.dep.</summary>
    public static List<string> ModulesInLoadOrder(string modulesDir)
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

        foreach (string name in s_wanted)
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

    /// <summary>The shared objects <paramref name="binary"/> needs (ldd) plus OpenSSL and what it needs.</summary>
    public static SortedSet<string> SharedLibraries(string binary)
    {
        var all = new SortedSet<string>(StringComparer.Ordinal);
        var queue = new Queue<string>([binary]);
        foreach (string lib in s_dlopened)
        {
            string? found = new[] { "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib" }
                .Select(d => Path.Combine(d, lib)).FirstOrDefault(File.Exists);
            if (found is not null)
            {
                all.Add(found);
                queue.Enqueue(found);
            }
        }

        while (queue.Count > 0)
        {
            foreach (string lib in Ldd(queue.Dequeue()))
            {
                if (all.Add(lib))
                {
                    queue.Enqueue(lib);
                }
            }
        }

        return all;
    }

    private static List<string> Ldd(string file)
    {
        var psi = new ProcessStartInfo("ldd", [file]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using Process p = Process.Start(psi)!;
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        var libs = new List<string>();
        foreach (string raw in output.Split('\n'))
        {
            string line = raw.Trim();
            int arrow = line.IndexOf("=> ", StringComparison.Ordinal);
            string path = arrow >= 0 ? line[(arrow + 3)..] : line;
            int paren = path.IndexOf(" (", StringComparison.Ordinal);
            path = paren >= 0 ? path[..paren] : path;
            if (path.StartsWith('/') && File.Exists(path))
            {
                libs.Add(path);
            }
        }

        return libs;
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
    public static void BuildInitramfs(string outPath, string modulesDir, string busybox, IReadOnlyList<ImagePacker.Source> imageFiles, ImageManifest manifest,
        string trustPem)
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

        foreach (string lib in SharedLibraries(firmware))
        {
            cpio.FileFrom(lib.TrimStart('/'), lib, executable: true);
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

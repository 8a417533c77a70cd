using SnicRuntime.Contracts.Images;
using System.Security.Cryptography;
using SnicRuntime.Hal.Board;

namespace SnicRuntime.Management.Images;

/// <summary>What <c>snicctl image build</c> was asked for.</summary>
/// <param name="BootRoot">For a QEMU board of another architecture than this host: a root with its kernel, busybox and libraries (boards/qemu/arm64-root.sh).</param>
public sealed record ImageBuildRequest(string BoardFile, string OutPath, string FirmwareDirectory, string? ConfigFile, string Version, string? BootRoot = null);

/// <summary>
/// Builds a signed firmware image for a board from a published firmware: the binary, the board
/// file, a default configuration and, for boards that boot in QEMU, the boot media.
/// </summary>
public static class ImageBuilder
{
    /// <summary>What a card runs with when the image names nothing else: a managed card waits for its plan.</summary>
    public const string DefaultConfig = """
        {
          "plan-wait": 86400,
          "seconds": 86400
        }
        """;

    public static ImageManifest Build(ImageBuildRequest request, ECDsa key, Action<string> log)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(key);
        ArgumentNullException.ThrowIfNull(log);
        BoardDefinition board = BoardLoader.Load(request.BoardFile);
        string firmware = Path.Combine(request.FirmwareDirectory, "snic-firmware");
        if (!File.Exists(firmware))
        {
            throw new ImageException([$"no firmware at {firmware} (publish it: ./firmware/publish.sh, or leave --firmware out)"]);
        }

        string? machine = ElfMachine(firmware);
        if (machine != board.Cpu.Architecture)
        {
            throw new ImageException([$"{firmware} is {machine ?? "not an ELF executable"}, board '{board.Id}' has {board.Cpu.Architecture} cores"]);
        }

        string work = Directory.CreateTempSubdirectory("snic-image-").FullName;
        try
        {
            string config = request.ConfigFile ?? Path.Combine(work, "default.json");
            if (request.ConfigFile is null)
            {
                File.WriteAllText(config, DefaultConfig + "\n");
            }

            CheckConfig(config);
            var files = new List<ImagePacker.Source>
            {
                new(ImageLayout.Firmware, firmware),
                new(ImageLayout.Board, request.BoardFile),
                new(ImageLayout.DefaultConfig, config),
            };

            if (board.Hal.Driver == "dpdk")
            {
                // The DPDK driver's shim rides beside the binary (the firmware looks there first).
                string? shim = new[] { Path.Combine(request.FirmwareDirectory, "libsnic_dpdk.so"),
                        Path.Combine(FirmwarePublisher.FindSourceTree() ?? "", "hal", "dpdk", "shim", "out", "libsnic_dpdk.so") }
                    .FirstOrDefault(f => File.Exists(f) && ElfMachine(f) == board.Cpu.Architecture);
                if (shim is not null)
                {
                    files.Add(new ImagePacker.Source("bin/libsnic_dpdk.so", shim));
                }
                else
                {
                    log($"the image carries no DPDK shim for {board.Cpu.Architecture}: build hal/dpdk/shim/build.sh against the card's libdpdk and put libsnic_dpdk.so in the firmware directory");
                }
            }

            if (board.Supported.Contains("qemu-boot"))
            {
                files.AddRange(BootFiles(board, files, key, request.Version, work, request.BootRoot, log));
            }

            ImageManifest manifest = ImagePacker.Pack(request.OutPath, board, request.Version, files, key);
            log($"image {request.OutPath}: board {board.Id}, {board.RuntimeIdentifier}, version {request.Version}, {manifest.Files.Count} files, signed by {manifest.Signer}");
            return manifest;
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>A QEMU board's kernel and initramfs; the initramfs carries the slot's files and a manifest of them.</summary>
    private static List<ImagePacker.Source> BootFiles(BoardDefinition board, List<ImagePacker.Source> slotFiles, ECDsa key, string version, string work,
        string? bootRoot, Action<string> log)
    {
        string host = System.Runtime.InteropServices.RuntimeInformation.OSArchitecture == System.Runtime.InteropServices.Architecture.Arm64 ? "arm64" : "x86-64";
        string root = bootRoot ?? "/";
        if (bootRoot is null && board.Cpu.Architecture != host)
        {
            log($"boot media left out: board '{board.Id}' boots an {board.Cpu.Architecture} kernel; give --boot-root DIR with its kernel, busybox and libraries (boards/qemu/arm64-root.sh makes one); the image still flashes into a running card");
            return [];
        }

        if (BootMedia.FindKernel(out string? noKernel, root) is not (string kernel, string modules))
        {
            throw new ImageException([noKernel!]);
        }

        if (BootMedia.FindBusybox(out string? noBusybox, root) is not string busybox)
        {
            throw new ImageException([noBusybox!]);
        }

        // The factory slot's own manifest (the initramfs cannot carry the hash of itself).
        ImageManifest slot = ImagePacker.Describe(board, version, slotFiles, key);
        string initramfs = Path.Combine(work, "initramfs.gz");
        BootMedia.BuildInitramfs(initramfs, root, modules, busybox, slotFiles, slot, key.ExportSubjectPublicKeyInfoPem() + "\n");
        log($"boot media: kernel {kernel}, initramfs {new FileInfo(initramfs).Length / 1024} KiB (busybox, virtio modules, the firmware as the main process)");
        return [new(ImageLayout.Kernel, kernel), new(ImageLayout.Initramfs, initramfs)];
    }

    /// <summary>The default config must be a JSON object of firmware options (the firmware expands it with --config).</summary>
    private static void CheckConfig(string path)
    {
        try
        {
            using var doc = System.Text.Json.JsonDocument.Parse(File.ReadAllBytes(path));
            if (doc.RootElement.ValueKind != System.Text.Json.JsonValueKind.Object)
            {
                throw new ImageException([$"{path}: must be a JSON object of firmware options"]);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Text.Json.JsonException)
        {
            throw new ImageException([$"config {path}: {e.Message}"]);
        }
    }

    /// <summary>The architecture an ELF executable is for (e_machine), or null when it is not ELF.</summary>
    public static string? ElfMachine(string path)
    {
        Span<byte> header = stackalloc byte[20];
        using FileStream f = File.OpenRead(path);
        if (f.ReadAtLeast(header, 20, throwOnEndOfStream: false) < 20 || !header[..4].SequenceEqual("\u007fELF"u8))
        {
            return null;
        }

        ushort machine = System.Buffers.Binary.BinaryPrimitives.ReadUInt16LittleEndian(header[18..]);
        return machine switch
        {
            0x3E => "x86-64",
            0xB7 => "arm64",
            _ => $"ELF machine 0x{machine:x}",
        };
    }
}

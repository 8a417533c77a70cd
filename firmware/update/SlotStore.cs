using SnicRuntime.Contracts.Images;
using System.Security.Cryptography;

namespace SnicRuntime.Firmware.Update;

/// <summary>
/// The card's two firmware slots (A/B) plus the factory firmware, in one directory:
/// <code>
///   DIR/boot.json          which slot boots, which is on trial (BootState)
///   DIR/a/, DIR/b/         installed images: bin/snic-firmware, board.json, config/, manifest.json
///   DIR/incoming.img       an upload being received
///   DIR/health-N           written by boot N's firmware once it is healthy
/// </code>
/// Installing writes the inactive slot only; the running slot is never touched, so a bad image or
/// a cut upload leaves the card with what it had.
/// </summary>
public sealed class SlotStore(string directory, string? factoryDirectory)
{
    public const string Factory = "factory";

    public string Directory { get; } = directory;

    /// <summary>The firmware the supervisor came with (read-only; always bootable); null where unknown (in a slot's firmware).</summary>
    public string? FactoryDirectory { get; } = factoryDirectory;

    public string StatePath => Path.Combine(Directory, "boot.json");

    public string IncomingPath => Path.Combine(Directory, "incoming.img");

    public BootState State() => BootState.Load(StatePath);

    public string? SlotDirectory(string slot) => slot == Factory ? FactoryDirectory : Path.Combine(Directory, slot);

    public string HealthPath(long bootCount) => Path.Combine(Directory, $"health-{bootCount}");

    /// <summary>The slot an install goes to: whichever of a and b is not booting now.</summary>
    public static string Inactive(BootState state) => state.Active == "a" ? "b" : "a";

    /// <summary>The manifest of an installed slot, or null (factory firmware built without an image has none).</summary>
    public ImageManifest? Manifest(string slot)
    {
        if (SlotDirectory(slot) is not string directory)
        {
            return null;
        }

        string path = Path.Combine(directory, ImageLayout.Manifest);
        return File.Exists(path) ? ImageManifest.Parse(File.ReadAllBytes(path)) : null;
    }

    /// <summary>
    /// Installs a verified image into the inactive slot and marks it for a trial boot. Files are
    /// written into a fresh directory, re-hashed from disk, then renamed over the slot.
    /// </summary>
    public string Install(Stream image, VerifiedImage verified)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(verified);
        BootState state = State();
        string slot = Inactive(state);
        string target = SlotDirectory(slot)!;
        string staging = target + ".new";
        if (System.IO.Directory.Exists(staging))
        {
            System.IO.Directory.Delete(staging, recursive: true);
        }

        foreach (ImageFile file in verified.Manifest.Files)
        {
            if (file.Path.StartsWith("boot/", StringComparison.Ordinal))
            {
                continue; // a QEMU board's boot media: for the machine that boots the card, not for a slot
            }

            string path = Path.Combine(staging, file.Path);
            System.IO.Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            using (var f = new FileStream(path, FileMode.CreateNew, FileAccess.Write))
            {
                ImageArchive.CopyTo(image, verified.Entries[file.Path], f);
                f.Flush(flushToDisk: true);
            }

            using (FileStream written = File.OpenRead(path))
            {
                if (!string.Equals(Convert.ToHexStringLower(SHA256.HashData(written)), file.Sha256, StringComparison.Ordinal))
                {
                    throw new ImageException([$"{file.Path}: the copy written to slot {slot} does not match its hash (storage error?)"]);
                }
            }

            if (file.Path == verified.Manifest.Entry && !OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
                    | UnixFileMode.GroupRead | UnixFileMode.GroupExecute);
            }
        }

        File.WriteAllBytes(Path.Combine(staging, ImageLayout.Manifest), verified.Manifest.ToJson());
        if (System.IO.Directory.Exists(target))
        {
            System.IO.Directory.Delete(target, recursive: true);
        }

        System.IO.Directory.Move(staging, target);
        state.Trial = slot;
        state.LastResult = $"{slot} installed ({verified.Manifest.Version}), waiting for its trial boot";
        state.Save(StatePath);
        return slot;
    }
}

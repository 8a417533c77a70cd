using System.Text.Json;
using System.Text.Json.Serialization;

namespace SnicRuntime.Contracts.Images;

/// <summary>
/// manifest.json of a firmware image: what the image is for and the SHA-256 of every file in it.
/// The signature (manifest.sig) covers these exact bytes, so a file's hash in here is as good as
/// a signature over the file.
/// </summary>
public sealed class ImageManifest
{
    public const int CurrentFormat = 1;

    public int Format { get; set; } = CurrentFormat;

    public string Product { get; set; } = "snic-firmware";

    public string Version { get; set; } = "";

    /// <summary>The board id the image was built for (boards/*.json id).</summary>
    public string Board { get; set; } = "";

    public string Architecture { get; set; } = "";

    public string RuntimeIdentifier { get; set; } = "";

    public string? InstructionSet { get; set; }

    public string Created { get; set; } = "";

    /// <summary>The executable the boot supervisor starts (a path listed in <see cref="Files"/>).</summary>
    public string Entry { get; set; } = ImageLayout.Firmware;

    public List<ImageFile> Files { get; set; } = [];

    /// <summary>Key id of the signer: the first 16 bytes of SHA-256 over its public key (SubjectPublicKeyInfo), hex.</summary>
    public string Signer { get; set; } = "";

    public static ImageManifest Parse(ReadOnlySpan<byte> json)
    {
        try
        {
            return JsonSerializer.Deserialize(json, ImageJsonContext.Default.ImageManifest)
                ?? throw new ImageException(["manifest.json: the document is null"]);
        }
        catch (JsonException e)
        {
            throw new ImageException([$"manifest.json: {e.Path ?? "$"}: {e.Message}"]);
        }
    }

    public byte[] ToJson() => JsonSerializer.SerializeToUtf8Bytes(this, ImageJsonContext.Default.ImageManifest);
}

public sealed class ImageFile
{
    public string Path { get; set; } = "";

    public long Size { get; set; }

    public string Sha256 { get; set; } = "";
}

/// <summary>Where things live inside an image (a ustar archive) and in an installed slot.</summary>
public static class ImageLayout
{
    public const string Manifest = "manifest.json";
    public const string Signature = "manifest.sig";
    public const string Firmware = "bin/snic-firmware";
    public const string Board = "board.json";
    public const string DefaultConfig = "config/default.json";

    /// <summary>QEMU boards: the kernel and the initramfs that boots the firmware as its main process.</summary>
    public const string Kernel = "boot/vmlinuz";
    public const string Initramfs = "boot/initramfs.gz";
}

/// <summary>An image that must not be installed: every reason, each naming the file or field at fault.</summary>
public sealed class ImageException(IReadOnlyList<string> errors) : Exception(string.Join("; ", errors))
{
    public IReadOnlyList<string> Errors { get; } = errors;
}

[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    WriteIndented = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow)]
[JsonSerializable(typeof(ImageManifest))]
internal sealed partial class ImageJsonContext : JsonSerializerContext;

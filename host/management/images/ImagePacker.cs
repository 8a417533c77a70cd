using SnicRuntime.Contracts.Images;
using System.Formats.Tar;
using System.Security.Cryptography;
using SnicRuntime.Hal.Board;

namespace SnicRuntime.Management.Images;

/// <summary>
/// Packs a firmware image: a ustar archive of manifest.json, manifest.sig and the files, in that
/// order (a card reads the manifest and checks the signature before it reads anything else).
/// </summary>
public static class ImagePacker
{
    /// <summary>One file to put in the image: its path inside, and where its bytes come from.</summary>
    public sealed record Source(string PathInImage, string FromFile);

    public static ImageManifest Pack(string outPath, BoardDefinition board, string version, IReadOnlyList<Source> files, ECDsa key)
    {
        ImageManifest manifest = Describe(board, version, files, key);
        byte[] manifestBytes = manifest.ToJson();
        byte[] signature = ImageKeys.Sign(key, manifestBytes);
        string temporary = outPath + ".partial";
        using (var output = new FileStream(temporary, FileMode.Create, FileAccess.Write))
        using (var tar = new TarWriter(output, TarEntryFormat.Ustar, leaveOpen: false))
        {
            Add(tar, ImageLayout.Manifest, new MemoryStream(manifestBytes), executable: false);
            Add(tar, ImageLayout.Signature, new MemoryStream(signature), executable: false);
            foreach (Source s in files)
            {
                using FileStream f = File.OpenRead(s.FromFile);
                Add(tar, s.PathInImage, f, executable: s.PathInImage == manifest.Entry);
            }
        }

        File.Move(temporary, outPath, overwrite: true);
        return manifest;
    }

    /// <summary>The manifest of <paramref name="files"/>: sizes and SHA-256 of each, the board, the signer.</summary>
    public static ImageManifest Describe(BoardDefinition board, string version, IReadOnlyList<Source> files, ECDsa key)
    {
        ArgumentNullException.ThrowIfNull(board);
        ArgumentNullException.ThrowIfNull(files);
        ArgumentNullException.ThrowIfNull(key);
        var manifest = new ImageManifest
        {
            Version = version,
            Board = board.Id,
            Architecture = board.Cpu.Architecture,
            RuntimeIdentifier = board.RuntimeIdentifier,
            InstructionSet = board.Cpu.InstructionSet,
            Created = DateTimeOffset.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture),
            Signer = ImageKeys.KeyId(key),
        };
        foreach (Source s in files)
        {
            ImageArchive.CheckName(s.PathInImage);
            using FileStream f = File.OpenRead(s.FromFile);
            manifest.Files.Add(new ImageFile { Path = s.PathInImage, Size = f.Length, Sha256 = Convert.ToHexStringLower(SHA256.HashData(f)) });
        }

        return manifest;
    }

    private static void Add(TarWriter tar, string name, Stream data, bool executable)
    {
        var entry = new UstarTarEntry(TarEntryType.RegularFile, name)
        {
            DataStream = data,
            Mode = executable ? (UnixFileMode)0b111_101_101 : (UnixFileMode)0b110_100_100,
            ModificationTime = DateTimeOffset.UnixEpoch, // the manifest carries the build time; the archive stays reproducible
        };
        tar.WriteEntry(entry);
    }
}

using System.Security.Cryptography;

namespace SnicRuntime.Contracts.Images;

/// <summary>An image whose signature and every file's hash checked out.</summary>
public sealed record VerifiedImage(ImageManifest Manifest, Dictionary<string, (long Offset, long Size)> Entries);

/// <summary>
/// Checks an image before anything of it is used: the manifest is signed by a trusted key, every
/// file the manifest lists is present with its size and SHA-256, no file is unlisted, the entry
/// point is one of them, and (on a card) the board and architecture are this card's. All
/// problems are reported together.
/// </summary>
public static class ImageVerifier
{
    public static VerifiedImage Verify(Stream image, IReadOnlyList<ECDsa> trusted, string? expectBoard = null, string? expectArchitecture = null)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentNullException.ThrowIfNull(trusted);
        Dictionary<string, (long Offset, long Size)> entries = ImageArchive.Index(image);
        if (!entries.TryGetValue(ImageLayout.Manifest, out var manifestEntry))
        {
            throw new ImageException(["the image has no manifest.json (not a firmware image?)"]);
        }

        if (!entries.TryGetValue(ImageLayout.Signature, out var signatureEntry))
        {
            throw new ImageException(["the image is unsigned: it has no manifest.sig"]);
        }

        byte[] manifestBytes = ImageArchive.Read(image, manifestEntry);
        byte[] signature = ImageArchive.Read(image, signatureEntry);

        // The signature first: nothing in an unsigned manifest is worth reading.
        bool signed = false;
        foreach (ECDsa key in trusted)
        {
            signed |= ImageKeys.Verify(key, manifestBytes, signature);
        }

        ImageManifest manifest;
        try
        {
            manifest = ImageManifest.Parse(manifestBytes);
        }
        catch (ImageException) when (!signed)
        {
            throw new ImageException(["manifest.sig: the signature does not verify with any trusted key"]);
        }

        if (!signed)
        {
            throw new ImageException([$"manifest.sig: the signature does not verify with any trusted key (the image names signer {manifest.Signer}; trusted: {string.Join(", ", trusted.Select(ImageKeys.KeyId))})"]);
        }

        var errors = new List<string>();
        if (manifest.Format != ImageManifest.CurrentFormat)
        {
            errors.Add($"manifest.json: format {manifest.Format} is not {ImageManifest.CurrentFormat}");
        }

        if (expectBoard is not null && manifest.Board != expectBoard)
        {
            errors.Add($"manifest.json: the image is for board '{manifest.Board}', this card is '{expectBoard}'");
        }

        if (expectArchitecture is not null && manifest.Architecture != expectArchitecture)
        {
            errors.Add($"manifest.json: the image is for {manifest.Architecture} cores, this card has {expectArchitecture}");
        }

        var listed = new HashSet<string>(StringComparer.Ordinal) { ImageLayout.Manifest, ImageLayout.Signature };
        foreach (ImageFile file in manifest.Files)
        {
            if (!listed.Add(file.Path))
            {
                errors.Add($"manifest.json: '{file.Path}' is listed twice");
                continue;
            }

            if (!entries.TryGetValue(file.Path, out var entry))
            {
                errors.Add($"{file.Path}: listed in the manifest but missing from the image");
                continue;
            }

            if (entry.Size != file.Size)
            {
                errors.Add($"{file.Path}: {entry.Size} bytes, the manifest says {file.Size}");
                continue;
            }

            image.Position = entry.Offset;
            using var slice = new BoundedStream(image, entry.Size);
            string sha = Convert.ToHexStringLower(SHA256.HashData(slice));
            if (!string.Equals(sha, file.Sha256, StringComparison.Ordinal))
            {
                errors.Add($"{file.Path}: SHA-256 {sha} does not match the manifest's {file.Sha256} (tampered or corrupted)");
            }
        }

        foreach (string name in entries.Keys)
        {
            if (!listed.Contains(name))
            {
                errors.Add($"{name}: in the image but not in the manifest");
            }
        }

        if (!manifest.Files.Exists(f => f.Path == manifest.Entry))
        {
            errors.Add($"manifest.json: the entry point '{manifest.Entry}' is not one of the image's files");
        }

        if (!manifest.Files.Exists(f => f.Path == ImageLayout.Board))
        {
            errors.Add($"manifest.json: the image carries no {ImageLayout.Board}");
        }

        if (errors.Count > 0)
        {
            throw new ImageException(errors);
        }

        return new VerifiedImage(manifest, entries);
    }

    /// <summary>A read-only window of <paramref name="length"/> bytes from the inner stream's position.</summary>
    private sealed class BoundedStream(Stream inner, long size) : Stream
    {
        private readonly long _size = size;
        private long _left = size;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => _size;

        public override long Position { get => _size - _left; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            if (_left <= 0)
            {
                return 0;
            }

            int n = inner.Read(buffer, offset, (int)Math.Min(count, _left));
            _left -= n;
            return n;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}

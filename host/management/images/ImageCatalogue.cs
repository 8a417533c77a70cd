using System.Security.Cryptography;
using SnicRuntime.Contracts.Images;
using SnicRuntime.Management.Fleet;
using SnicRuntime.Management.Store;

namespace SnicRuntime.Management.Images;

/// <summary>
/// The fleet's image catalogue in the store (<c>/images/BOARD/VERSION</c>): which signed images
/// exist, for which board, and where each file is, so `snicctl flash CARD BOARD@VERSION` works from
/// any host. An entry is added once by compare-and-swap: the same board and version with another
/// digest is refused (a version names one image, fleet-wide), the same image again is a no-op.
/// Only images that verify against the trusted keys are added.
/// </summary>
public sealed class ImageCatalogue(IStateStore store)
{
    /// <summary>
    /// Verifies the image at <paramref name="path"/> against <paramref name="trusted"/> and adds
    /// it; the entry, and whether it was new. Throws <see cref="ImageException"/> for an image that
    /// does not verify or a version already catalogued with another image.
    /// </summary>
    public async Task<(ImageRecord Image, bool Added)> Add(string path, IReadOnlyList<ECDsa> trusted, string by, CancellationToken cancel = default)
    {
        string full = Path.GetFullPath(path);
        ImageManifest m;
        string sha;
        long size;
        await using (FileStream file = File.OpenRead(full))
        {
            m = ImageVerifier.Verify(file, trusted).Manifest;
            file.Position = 0;
            sha = Convert.ToHexStringLower(await SHA256.HashDataAsync(file, cancel));
            size = file.Length;
        }

        var image = new ImageRecord(m.Board, m.Version, m.Architecture, m.RuntimeIdentifier, m.Signer, m.Created, sha, size, full, DateTimeOffset.UtcNow, by);
        string key = FleetKeys.Image(m.Board, m.Version);
        TxnResult r = await store.Txn([StoreCompare.Absent(key)], [StoreOp.Put(key, FleetJson.Bytes(image, FleetJson.Default.ImageRecord))], null, cancel);
        if (r.Succeeded)
        {
            return (image, true);
        }

        ImageRecord existing = await Find(m.Board, m.Version, cancel)
            ?? throw new StoreException($"the catalogue entry {m.Board}@{m.Version} changed while it was being added; try again");
        return existing.Sha256 == sha ? (existing, false)
            : throw new ImageException([$"{m.Board}@{m.Version} is already in the catalogue as another image (sha256 {existing.Sha256}, {existing.Location}); give this one another version"]);
    }

    public async Task<ImageRecord?> Find(string board, string version, CancellationToken cancel = default) =>
        await store.Get(FleetKeys.Image(board, version), cancel) is StoreEntry e ? FleetJson.Read(e, FleetJson.Default.ImageRecord) : null;

    /// <summary>Every catalogued image, by board then version.</summary>
    public async Task<IReadOnlyList<ImageRecord>> All(CancellationToken cancel = default)
    {
        (IReadOnlyList<StoreEntry> entries, _) = await store.Range(FleetKeys.Images, cancel);
        return [.. entries.Select(e => FleetJson.Read(e, FleetJson.Default.ImageRecord))];
    }

    /// <summary>Takes an image out of the catalogue (its file stays); false when it was not there.</summary>
    public async Task<bool> Remove(string board, string version, CancellationToken cancel = default) =>
        (await store.Txn([StoreCompare.Present(FleetKeys.Image(board, version))], [StoreOp.Delete(FleetKeys.Image(board, version))], null, cancel)).Succeeded;

    /// <summary>
    /// Opens a catalogued image's file for flashing, checking it is still the image catalogued
    /// (same size and SHA-256): a file replaced after it was catalogued is refused, naming both.
    /// </summary>
    public static async Task<FileStream> Open(ImageRecord image, CancellationToken cancel = default)
    {
        FileStream file = File.OpenRead(image.Location);
        try
        {
            string sha = Convert.ToHexStringLower(await SHA256.HashDataAsync(file, cancel));
            if (sha != image.Sha256)
            {
                throw new ImageException([$"{image.Location} is no longer the image catalogued as {image.Board}@{image.Version} (sha256 {sha}, catalogued {image.Sha256})"]);
            }

            file.Position = 0;
            return file;
        }
        catch
        {
            await file.DisposeAsync();
            throw;
        }
    }

    /// <summary>Splits BOARD@VERSION; false when <paramref name="text"/> is not of that form (a file path).</summary>
    public static bool TryParseName(string text, out string board, out string version)
    {
        int at = text.LastIndexOf('@');
        bool ok = at > 0 && at < text.Length - 1 && !text.Contains('/', StringComparison.Ordinal) && !File.Exists(text);
        board = ok ? text[..at] : "";
        version = ok ? text[(at + 1)..] : "";
        return ok;
    }
}

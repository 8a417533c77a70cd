using System.IO.Compression;
using System.Text;

namespace SnicRuntime.Management.Images;

/// <summary>
/// Writes a gzip-compressed cpio archive in the "newc" format (what the Linux kernel unpacks as an
/// initramfs; several such archives concatenated are unpacked in turn, which is how a card's
/// credentials are laid over the image's initramfs at boot).
/// </summary>
public sealed class Cpio : IDisposable
{
    private readonly GZipStream _gzip;
    private readonly HashSet<string> _directories = new(StringComparer.Ordinal);
    private int _inode = 1;
    private bool _finished;

    public Cpio(Stream output)
    {
        _gzip = new GZipStream(output, CompressionLevel.Optimal, leaveOpen: false);
    }

    /// <summary>Adds a directory and its parents (once each).</summary>
    public void Directory(string path)
    {
        string[] parts = path.Trim('/').Split('/', StringSplitOptions.RemoveEmptyEntries);
        for (int i = 1; i <= parts.Length; i++)
        {
            string p = string.Join('/', parts, 0, i);
            if (_directories.Add(p))
            {
                Entry(p, 0x4000 | 0b111_101_101, []);
            }
        }
    }

    public void File(string path, ReadOnlySpan<byte> data, bool executable = false)
    {
        Parent(path);
        Entry(path.TrimStart('/'), 0x8000 | (executable ? 0b111_101_101 : 0b110_100_100), data);
    }

    public void File(string path, string text, bool executable = false) => File(path, Encoding.UTF8.GetBytes(text), executable);

    public void FileFrom(string path, string source, bool executable = false) => File(path, System.IO.File.ReadAllBytes(source), executable);

    public void Symlink(string path, string target)
    {
        Parent(path);
        Entry(path.TrimStart('/'), 0xA000 | 0b111_111_111, Encoding.UTF8.GetBytes(target));
    }

    private void Parent(string path)
    {
        int slash = path.TrimStart('/').LastIndexOf('/');
        if (slash > 0)
        {
            Directory(path.TrimStart('/')[..slash]);
        }
    }

    private void Entry(string name, int mode, ReadOnlySpan<byte> data)
    {
        byte[] nameBytes = Encoding.UTF8.GetBytes(name + "\0");
        var header = new StringBuilder("070701");
        foreach (long field in new long[] { _inode++, mode, 0, 0, 1, 0, data.Length, 0, 0, 0, 0, nameBytes.Length, 0 })
        {
            header.Append(field.ToString("x8", System.Globalization.CultureInfo.InvariantCulture));
        }

        byte[] h = Encoding.ASCII.GetBytes(header.ToString());
        _gzip.Write(h);
        _gzip.Write(nameBytes);
        Pad(h.Length + nameBytes.Length);
        _gzip.Write(data);
        Pad(data.Length);
    }

    private void Pad(int length)
    {
        int pad = (4 - (length % 4)) % 4;
        for (int i = 0; i < pad; i++)
        {
            _gzip.WriteByte(0);
        }
    }

    /// <summary>Writes the trailer and closes the archive.</summary>
    public void Dispose()
    {
        if (!_finished)
        {
            _finished = true;
            Entry("TRAILER!!!", 0, []);
        }

        _gzip.Dispose();
    }
}

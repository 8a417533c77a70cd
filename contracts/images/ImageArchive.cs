using System.Text;

namespace SnicRuntime.Contracts.Images;

/// <summary>
/// Reads a firmware image: a POSIX ustar archive (what <c>tar</c> lists) of regular files only.
/// Written here rather than with System.Formats.Tar because the card must be strict, not
/// accommodating: no links, devices, sparse or pax extensions, no absolute or "..", no duplicate
/// names, sizes bounded — anything else is a refused image, never a file written outside a slot.
/// </summary>
public static class ImageArchive
{
    /// <summary>Largest image file accepted (the firmware is ~15 MB; QEMU images carry a kernel and an initramfs).</summary>
    public const long MaxFileBytes = 256L << 20;

    public const int MaxFiles = 64;

    /// <summary>Every file of the archive at <paramref name="path"/>: name → (offset of its data, size).</summary>
    public static Dictionary<string, (long Offset, long Size)> Index(string path)
    {
        using FileStream f = File.OpenRead(path);
        return Index(f);
    }

    public static Dictionary<string, (long Offset, long Size)> Index(Stream archive)
    {
        ArgumentNullException.ThrowIfNull(archive);
        var files = new Dictionary<string, (long, long)>(StringComparer.Ordinal);
        byte[] header = new byte[512];
        long position = 0;
        while (true)
        {
            archive.Position = position;
            if (archive.ReadAtLeast(header, 512, throwOnEndOfStream: false) < 512)
            {
                throw new ImageException([$"archive: truncated at byte {position} (no end-of-archive block)"]);
            }

            if (Array.TrueForAll(header, b => b == 0))
            {
                return files; // end of archive
            }

            if (!header.AsSpan(257, 5).SequenceEqual("ustar"u8))
            {
                throw new ImageException([$"archive: the entry at byte {position} is not a ustar header"]);
            }

            if (!ChecksumMatches(header))
            {
                throw new ImageException([$"archive: the header at byte {position} fails its checksum"]);
            }

            string name = Field(header, 0, 100);
            string prefix = Field(header, 345, 155);
            if (prefix.Length > 0)
            {
                name = prefix + "/" + name;
            }

            char type = (char)header[156];
            long size = Octal(header.AsSpan(124, 12), name);
            long data = position + 512;
            position = data + ((size + 511) & ~511L);
            if (type == '5')
            {
                continue; // directories carry nothing; files name their own paths
            }

            if (type is not ('0' or '\0'))
            {
                throw new ImageException([$"archive: '{name}' is not a regular file (type '{type}'); images hold regular files only"]);
            }

            CheckName(name);
            if (size > MaxFileBytes)
            {
                throw new ImageException([$"archive: '{name}' is {size} bytes, over the {MaxFileBytes} a file may have"]);
            }

            if (data + size > archive.Length)
            {
                throw new ImageException([$"archive: '{name}' runs past the end of the image (truncated upload?)"]);
            }

            if (!files.TryAdd(name, (data, size)))
            {
                throw new ImageException([$"archive: '{name}' appears twice"]);
            }

            if (files.Count > MaxFiles)
            {
                throw new ImageException([$"archive: more than {MaxFiles} files"]);
            }
        }
    }

    /// <summary>A file's bytes (for the small ones: manifest, signature, board, config).</summary>
    public static byte[] Read(Stream archive, (long Offset, long Size) entry)
    {
        ArgumentNullException.ThrowIfNull(archive);
        if (entry.Size > 16 << 20)
        {
            throw new ImageException(["archive: a metadata file larger than 16 MiB"]);
        }

        byte[] bytes = new byte[entry.Size];
        archive.Position = entry.Offset;
        archive.ReadExactly(bytes);
        return bytes;
    }

    /// <summary>Copies a file's bytes to <paramref name="destination"/>.</summary>
    public static void CopyTo(Stream archive, (long Offset, long Size) entry, Stream destination)
    {
        ArgumentNullException.ThrowIfNull(archive);
        ArgumentNullException.ThrowIfNull(destination);
        archive.Position = entry.Offset;
        byte[] buffer = new byte[81920];
        long left = entry.Size;
        while (left > 0)
        {
            int n = archive.Read(buffer, 0, (int)Math.Min(buffer.Length, left));
            if (n == 0)
            {
                throw new ImageException(["archive: ended inside a file"]);
            }

            destination.Write(buffer, 0, n);
            left -= n;
        }
    }

    /// <summary>Relative, forward-slash, no "." or ".." parts, printable ASCII: a name that cannot escape a slot.</summary>
    public static void CheckName(string name)
    {
        bool ok = name.Length is > 0 and <= 200 && name[0] != '/' && !name.EndsWith('/');
        foreach (char c in name)
        {
            ok &= c is > ' ' and < (char)127 and not '\\';
        }

        foreach (string part in name.Split('/'))
        {
            ok &= part is not ("" or "." or "..");
        }

        if (!ok)
        {
            throw new ImageException([$"archive: '{name}' is not a safe relative file name"]);
        }
    }

    private static string Field(byte[] header, int offset, int length)
    {
        ReadOnlySpan<byte> f = header.AsSpan(offset, length);
        int end = f.IndexOf((byte)0);
        return Encoding.ASCII.GetString(end < 0 ? f : f[..end]);
    }

    private static long Octal(ReadOnlySpan<byte> field, string name)
    {
        int end = field.IndexOfAny((byte)0, (byte)' ');
        ReadOnlySpan<byte> digits = (end < 0 ? field : field[..end]).TrimStart((byte)' ').TrimStart((byte)'0');
        long value = 0;
        foreach (byte d in digits)
        {
            if (d is < (byte)'0' or > (byte)'7' || value > (long.MaxValue >> 3))
            {
                throw new ImageException([$"archive: '{name}' has a bad size field"]);
            }

            value = (value << 3) | (uint)(d - '0');
        }

        return value;
    }

    private static bool ChecksumMatches(byte[] header)
    {
        long stored;
        try
        {
            stored = Octal(header.AsSpan(148, 8), "header");
        }
        catch (ImageException)
        {
            return false;
        }

        long sum = 0;
        for (int i = 0; i < 512; i++)
        {
            sum += i is >= 148 and < 156 ? (byte)' ' : header[i];
        }

        return sum == stored;
    }
}

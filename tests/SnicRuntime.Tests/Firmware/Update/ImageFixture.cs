using SnicRuntime.Contracts.Images;
using SnicRuntime.TestKit;
using System.Security.Cryptography;
using SnicRuntime.Firmware.Update;
using SnicRuntime.Hal.Board;
using SnicRuntime.Management.Images;

namespace SnicRuntime.Tests.Firmware.Update;

/// <summary>A scratch directory with a signing key and helpers to pack images of small files.</summary>
internal sealed class ImageFixture : IDisposable
{
    public ImageFixture()
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("snic-image-test-").FullName;
        Key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    }

    public string Directory { get; }

    public ECDsa Key { get; }

    public static BoardDefinition Board(string file = "emulated/emulated.json") => BoardLoader.Load(System.IO.Path.Combine(TestPaths.BoardsDirectory, file));

    public string Path(string name) => System.IO.Path.Combine(Directory, name);

    public string Write(string name, string text)
    {
        string p = Path(name);
        System.IO.Directory.CreateDirectory(System.IO.Path.GetDirectoryName(p)!);
        File.WriteAllText(p, text);
        return p;
    }

    /// <summary>An image whose firmware is <paramref name="firmwareScript"/> (a shell script stands in for the binary).</summary>
    public string Pack(string name, string firmwareScript, string version = "1.0.0-test", string boardFile = "emulated/emulated.json", ECDsa? key = null)
    {
        string fw = Write(name + ".fw", firmwareScript);
        string config = Write(name + ".config.json", "{ \"flow-capacity\": 4096 }");
        string board = System.IO.Path.Combine(TestPaths.BoardsDirectory, boardFile);
        string image = Path(name + ".snimg");
        ImagePacker.Pack(image, Board(boardFile), version,
            [new(ImageLayout.Firmware, fw), new(ImageLayout.Board, board), new(ImageLayout.DefaultConfig, config)], key ?? Key);
        return image;
    }

    public VerifiedImage Verify(string image, string? board = null, ECDsa? key = null)
    {
        using FileStream f = File.OpenRead(image);
        return ImageVerifier.Verify(f, [key ?? Key], board);
    }

    /// <summary>Overwrites one byte of the named file's data inside the image.</summary>
    public void Corrupt(string image, string fileInImage, int at = 0)
    {
        (long offset, long _) = ImageArchive.Index(image)[fileInImage];
        using var f = new FileStream(image, FileMode.Open, FileAccess.ReadWrite);
        f.Position = offset + at;
        int b = f.ReadByte();
        f.Position = offset + at;
        f.WriteByte((byte)(b ^ 0x5a));
    }

    public void Dispose()
    {
        Key.Dispose();
        System.IO.Directory.Delete(Directory, recursive: true);
    }

    /// <summary>A stand-in firmware: reports healthy (as the supervisor asks) and exits with <paramref name="exitCode"/>.</summary>
    public static string HealthyScript(int exitCode = 0, string extra = "") => $$"""
        #!/bin/sh
        while [ $# -gt 0 ]; do case "$1" in --boot-health) h="$2"; shift;; esac; shift; done
        {{extra}}
        echo healthy > "$h"
        exit {{exitCode}}
        """.Replace("\r", "", StringComparison.Ordinal);
}

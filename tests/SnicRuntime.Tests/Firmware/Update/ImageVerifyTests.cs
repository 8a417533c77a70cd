using SnicRuntime.Contracts.Images;
using SnicRuntime.TestKit;
using System.Diagnostics;
using System.Formats.Tar;
using System.Security.Cryptography;
using SnicRuntime.Firmware.Update;
using Xunit;

namespace SnicRuntime.Tests.Firmware.Update;

/// <summary>Image build/verify round trip and every way an image is refused.</summary>
public sealed class ImageVerifyTests : IDisposable
{
    private readonly ImageFixture _f = new();

    public void Dispose() => _f.Dispose();

    private ImageException Refused(string image, string? board = null, ECDsa? key = null) =>
        Assert.Throws<ImageException>(() => _f.Verify(image, board, key));

    [Fact]
    public void A_packed_image_verifies_and_lists_every_file_with_its_hash()
    {
        string image = _f.Pack("ok", "#!/bin/sh\nexit 0\n", "2.1.0");
        VerifiedImage v = _f.Verify(image, "emulated");
        Assert.Equal("2.1.0", v.Manifest.Version);
        Assert.Equal("emulated", v.Manifest.Board);
        Assert.Equal("x86-64", v.Manifest.Architecture);
        Assert.Equal(ImageKeys.KeyId(_f.Key), v.Manifest.Signer);
        Assert.Equal([ImageLayout.Firmware, ImageLayout.Board, ImageLayout.DefaultConfig], v.Manifest.Files.Select(f => f.Path));
        string boardHash = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(Path.Combine(TestPaths.BoardsDirectory, "emulated", "emulated.json"))));
        Assert.Equal(boardHash, v.Manifest.Files[1].Sha256);
    }

    [Fact]
    public void The_image_is_a_plain_tar_that_the_system_tar_lists()
    {
        string image = _f.Pack("tar", "#!/bin/sh\n");
        var psi = new ProcessStartInfo("tar", ["-tvf", image]) { RedirectStandardOutput = true };
        using Process tar = Process.Start(psi)!;
        string listing = tar.StandardOutput.ReadToEnd();
        tar.WaitForExit();
        Assert.Equal(0, tar.ExitCode);
        foreach (string name in new[] { "manifest.json", "manifest.sig", "bin/snic-firmware", "board.json", "config/default.json" })
        {
            Assert.Contains(name, listing);
        }

        Assert.Contains("-rwxr-xr-x", listing); // the entry point is executable
    }

    [Fact]
    public void A_tampered_manifest_fails_the_signature()
    {
        string image = _f.Pack("m", "#!/bin/sh\n");
        _f.Corrupt(image, ImageLayout.Manifest, at: 40);
        Assert.Contains("does not verify with any trusted key", Refused(image).Message);
    }

    [Fact]
    public void A_tampered_binary_is_named_with_its_hash()
    {
        string image = _f.Pack("b", "#!/bin/sh\nexit 0\n");
        _f.Corrupt(image, ImageLayout.Firmware, at: 5);
        ImageException e = Refused(image);
        Assert.Contains(e.Errors, m => m.StartsWith("bin/snic-firmware: SHA-256", StringComparison.Ordinal) && m.Contains("tampered or corrupted", StringComparison.Ordinal));
    }

    [Fact]
    public void An_image_for_another_board_is_refused()
    {
        string image = _f.Pack("w", "#!/bin/sh\n");
        Assert.Contains("the image is for board 'emulated', this card is 'bluefield-3'", Refused(image, "bluefield-3").Message);
    }

    [Fact]
    public void An_image_signed_by_an_untrusted_key_is_refused_naming_both_keys()
    {
        using var other = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        string image = _f.Pack("k", "#!/bin/sh\n", key: other);
        string message = Refused(image).Message;
        Assert.Contains($"names signer {ImageKeys.KeyId(other)}", message);
        Assert.Contains($"trusted: {ImageKeys.KeyId(_f.Key)}", message);
    }

    [Fact]
    public void An_unsigned_image_is_refused()
    {
        string image = _f.Path("unsigned.snimg");
        using (var tar = new TarWriter(File.Create(image), TarEntryFormat.Ustar))
        {
            tar.WriteEntry(new UstarTarEntry(TarEntryType.RegularFile, "manifest.json") { DataStream = new MemoryStream("{}"u8.ToArray()) });
        }

        Assert.Contains("unsigned", Refused(image).Message);
    }

    [Theory]
    [InlineData("../etc/passwd", "not a safe relative file name")]
    [InlineData("/abs", "not a safe relative file name")]
    [InlineData("extra.txt", "in the image but not in the manifest")]
    public void Files_outside_the_manifest_or_the_slot_are_refused(string name, string reason)
    {
        string image = _f.Pack("x", "#!/bin/sh\n");
        // Append one more entry before the end-of-archive blocks.
        byte[] bytes = File.ReadAllBytes(image);
        int end = bytes.Length;
        while (end >= 512 && bytes.AsSpan(end - 512, 512).IndexOfAnyExcept((byte)0) < 0)
        {
            end -= 512;
        }

        using (var f = new FileStream(image, FileMode.Open, FileAccess.Write))
        {
            f.SetLength(end);
            f.Position = end;
            using var tar = new TarWriter(f, TarEntryFormat.Ustar, leaveOpen: true);
            tar.WriteEntry(new UstarTarEntry(TarEntryType.RegularFile, name) { DataStream = new MemoryStream("x"u8.ToArray()) });
        }

        Assert.Contains(reason, Refused(image).Message);
    }

    [Fact]
    public void Links_and_truncated_uploads_are_refused()
    {
        string link = _f.Path("link.snimg");
        using (var tar = new TarWriter(File.Create(link), TarEntryFormat.Ustar))
        {
            tar.WriteEntry(new UstarTarEntry(TarEntryType.SymbolicLink, "bin/snic-firmware") { LinkName = "/bin/sh" });
        }

        Assert.Contains("is not a regular file", Refused(link).Message);

        string image = _f.Pack("t", "#!/bin/sh\n" + new string('#', 5000) + "\n");
        using (var f = new FileStream(image, FileMode.Open, FileAccess.Write))
        {
            f.SetLength(ImageArchive.Index(image)[ImageLayout.Firmware].Offset + 100);
        }

        string message = Refused(image).Message;
        Assert.True(message.Contains("runs past the end", StringComparison.Ordinal) || message.Contains("truncated", StringComparison.Ordinal), message);
    }

    [Fact]
    public void The_builder_refuses_a_binary_for_the_wrong_architecture()
    {
        var e = Assert.Throws<ImageException>(() => SnicRuntime.Management.Images.ImageBuilder.Build(
            new SnicRuntime.Management.Images.ImageBuildRequest(Path.Combine(TestPaths.BoardsDirectory, "nvidia", "bluefield-3.json"), _f.Path("bf3.snimg"),
                Path.GetDirectoryName(WriteElfCopy())!, null, "1"), _f.Key, _ => { }));
        Assert.Contains("is x86-64, board 'bluefield-3' has arm64 cores", e.Message);
    }

    [Fact]
    public void The_builder_packs_a_board_config_and_binary_that_verify()
    {
        string dir = Path.GetDirectoryName(WriteElfCopy())!;
        string image = _f.Path("emulated.snimg");
        SnicRuntime.Management.Images.ImageBuilder.Build(new SnicRuntime.Management.Images.ImageBuildRequest(Path.Combine(TestPaths.BoardsDirectory, "emulated", "emulated.json"), image,
            dir, null, "3.0.0"), _f.Key, _ => { });
        VerifiedImage v = _f.Verify(image, "emulated");
        Assert.Equal("3.0.0", v.Manifest.Version);
        using FileStream s = File.OpenRead(image);
        string config = System.Text.Encoding.UTF8.GetString(ImageArchive.Read(s, v.Entries[ImageLayout.DefaultConfig]));
        Assert.Contains("\"plan-wait\"", config);
    }

    [Fact]
    public void A_dpdk_board_image_carries_the_shim_from_the_firmware_directory()
    {
        string dir = Path.GetDirectoryName(WriteElfCopy())!;
        File.Copy("/bin/true", Path.Combine(dir, "libsnic_dpdk.so")); // an x86-64 ELF standing in for the shim
        string board = _f.Write("dpdk-board.json", File.ReadAllText(Path.Combine(TestPaths.BoardsDirectory, "emulated", "emulated.json"))
            .Replace("\"id\": \"emulated\"", "\"id\": \"dpdk-board\"", StringComparison.Ordinal)
            .Replace("\"driver\": \"emulated\"", "\"driver\": \"dpdk\"", StringComparison.Ordinal)
            .Replace("\"emulated-io\"", "\"dpdk\"", StringComparison.Ordinal)
            .Replace("\"speedGbps\": 100 }", "\"speedGbps\": 100, \"device\": \"net_null0\" }", StringComparison.Ordinal));
        string image = _f.Path("dpdk.snimg");
        SnicRuntime.Management.Images.ImageBuilder.Build(new SnicRuntime.Management.Images.ImageBuildRequest(board, image, dir, null, "1"), _f.Key, _ => { });
        VerifiedImage v = _f.Verify(image, "dpdk-board");
        Assert.Contains(v.Manifest.Files, f => f.Path == "bin/libsnic_dpdk.so");
    }

    /// <summary>A real x86-64 ELF executable (not our firmware; the builder only checks its machine).</summary>
    private string WriteElfCopy()
    {
        string dir = _f.Path("fw");
        Directory.CreateDirectory(dir);
        string path = Path.Combine(dir, "snic-firmware");
        File.Copy("/bin/true", path, overwrite: true);
        return path;
    }
}

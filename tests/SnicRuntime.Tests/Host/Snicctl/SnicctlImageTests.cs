using SnicRuntime.Management.Images;
using Xunit;

namespace SnicRuntime.Tests.Host.Snicctl;

/// <summary>snicctl image/flash/qemu argument and input errors: clear messages and exit codes, never a stack trace.</summary>
[Collection("processes")]
public sealed class SnicctlImageTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("snicctl-image-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private (int Code, string Out, string Err) Run(params string[] args) => SnicctlProcess.Run([.. args, "--state", Path.Combine(_dir, "state")]);

    [Fact]
    public void An_unknown_board_lists_the_known_ones()
    {
        var r = Run("image", "build", "--board", "nosuchboard", "--firmware", _dir);
        Assert.Equal(3, r.Code);
        Assert.Contains("no board 'nosuchboard'", r.Err);
        Assert.Contains("bluefield-3", r.Err);
        Assert.DoesNotContain("   at ", r.Err);
    }

    [Fact]
    public void A_missing_firmware_directory_and_a_broken_image_are_named()
    {
        var r = Run("image", "build", "--board", "emulated", "--firmware", Path.Combine(_dir, "none"), "--out", Path.Combine(_dir, "x.snimg"));
        Assert.Equal(1, r.Code);
        Assert.Contains("no firmware at", r.Err);

        string junk = Path.Combine(_dir, "junk.snimg");
        File.WriteAllText(junk, "not a tar");
        Assert.True(File.Exists(Path.Combine(_dir, "state", "keys", "image-signing.pub"))); // made on first use
        r = Run("image", "verify", junk);
        Assert.Equal(1, r.Code);
        Assert.Contains("refused", r.Err);
        Assert.Contains("truncated", r.Err);
        // The catalogue: only an image that verifies goes in; what is missing is named.
        r = Run("image", "add", junk);
        Assert.Equal(1, r.Code);
        Assert.Contains("is not catalogued", r.Err);
        Assert.Contains("truncated", r.Err);
        r = Run("image", "add", Path.Combine(_dir, "none.snimg"));
        Assert.Equal(3, r.Code);
        Assert.Contains("cannot read", r.Err);
        Assert.Equal(2, Run("image", "remove", "not-a-name").Code);
        r = Run("image", "remove", "emulated@0.0.0");
        Assert.Equal(1, r.Code);
        Assert.Contains("no image emulated@0.0.0 in the catalogue", r.Err);
        Assert.Equal(0, Run("image", "list").Code);
        Assert.DoesNotContain("   at ", r.Err);
        r = Run("image", "keygen", "--out", Path.Combine(_dir, "state", "keys"));
        Assert.Equal(1, r.Code);
        Assert.Contains("not overwriting a signing key", r.Err);
        r = Run("image", "keygen", "--out", Path.Combine(_dir, "other"));
        Assert.Equal(0, r.Code);
        Assert.True(File.Exists(Path.Combine(_dir, "other", "image-signing.key")));
    }

    [Fact]
    public void Flash_and_qemu_name_what_is_missing()
    {
        var r = Run("flash", "nocard", Path.Combine(_dir, "x.snimg"));
        Assert.Equal(1, r.Code);
        Assert.Contains("no card named 'nocard'", r.Err);

        r = Run("qemu", "run", Path.Combine(_dir, "x.snimg"));
        Assert.Equal(3, r.Code);
        Assert.Contains("trust file", r.Err);
        Assert.Contains("snicctl image build", r.Err);
    }

    [Fact]
    public void An_arm64_build_lists_each_pack_the_package_source_lacks()
    {
        List<string> missing = FirmwarePublisher.MissingForArm64((id, version) => !id.Contains("ILCompiler", StringComparison.Ordinal));
        Assert.Contains("NuGet package runtime.linux-arm64.Microsoft.DotNet.ILCompiler 9.0.23 (the package source does not serve it)", missing);
        Assert.DoesNotContain(missing, m => m.Contains("Microsoft.NETCore.App.Runtime.linux-arm64", StringComparison.Ordinal));
        List<string> none = FirmwarePublisher.MissingForArm64((_, _) => false);
        Assert.Equal(3, none.Count(m => m.StartsWith("NuGet package", StringComparison.Ordinal)));
    }
}

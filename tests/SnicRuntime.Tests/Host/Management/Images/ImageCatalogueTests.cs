using System.Security.Cryptography;
using SnicRuntime.Contracts.Images;
using SnicRuntime.Management.Fleet;
using SnicRuntime.Management.Images;
using SnicRuntime.Management.Store;
using SnicRuntime.Tests.Firmware.Update;
using Xunit;

namespace SnicRuntime.Tests.Host.Management.Images;

/// <summary>
/// The fleet's image catalogue in the store: only images that verify go in, a version names one
/// image fleet-wide, another host sees what one host added, and a file replaced after it was
/// catalogued is refused when opened for flashing.
/// </summary>
public sealed class ImageCatalogueTests : IAsyncLifetime
{
    private readonly ImageFixture _images = new();
    private SqliteStateStore _store = null!;

    public Task InitializeAsync()
    {
        _store = new SqliteStateStore(_images.Path("fleet.db"));
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _store.DisposeAsync();
        _images.Dispose();
    }

    [Fact]
    public async Task An_image_that_verifies_is_catalogued_once_by_board_and_version_and_found_from_another_client()
    {
        string image = _images.Pack("one", ImageFixture.HealthyScript(), version: "1.2.3");
        var catalogue = new ImageCatalogue(_store);
        (ImageRecord added, bool isNew) = await catalogue.Add(image, [_images.Key], "tester@host");
        Assert.True(isNew);
        Assert.Equal(("emulated", "1.2.3", "x86-64"), (added.Board, added.Version, added.Architecture));
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(image))), added.Sha256);
        Assert.Equal(Path.GetFullPath(image), added.Location);

        // The same image again: nothing new.
        Assert.False((await catalogue.Add(image, [_images.Key], "tester@host")).Added);

        // Another host's client sees it, by name.
        await using var other = new SqliteStateStore(_images.Path("fleet.db"));
        ImageRecord? found = await new ImageCatalogue(other).Find("emulated", "1.2.3");
        Assert.Equal(added, found);
        Assert.Single(await new ImageCatalogue(other).All());
    }

    [Fact]
    public async Task Another_image_under_a_catalogued_version_is_refused_by_name()
    {
        var catalogue = new ImageCatalogue(_store);
        await catalogue.Add(_images.Pack("one", ImageFixture.HealthyScript(), version: "1.2.3"), [_images.Key], "t");
        string other = _images.Pack("two", ImageFixture.HealthyScript(exitCode: 1), version: "1.2.3");
        var e = await Assert.ThrowsAsync<ImageException>(() => catalogue.Add(other, [_images.Key], "t"));
        Assert.Contains("emulated@1.2.3 is already in the catalogue as another image", e.Message, StringComparison.Ordinal);
        Assert.Single(await catalogue.All());
    }

    [Fact]
    public async Task An_image_that_does_not_verify_is_not_catalogued()
    {
        using var stranger = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        string unsigned = _images.Pack("stranger", ImageFixture.HealthyScript(), key: stranger);
        await Assert.ThrowsAsync<ImageException>(() => new ImageCatalogue(_store).Add(unsigned, [_images.Key], "t"));

        string corrupt = _images.Pack("corrupt", ImageFixture.HealthyScript());
        _images.Corrupt(corrupt, ImageLayout.Firmware);
        await Assert.ThrowsAsync<ImageException>(() => new ImageCatalogue(_store).Add(corrupt, [_images.Key], "t"));
        Assert.Empty(await new ImageCatalogue(_store).All());
    }

    [Fact]
    public async Task A_file_replaced_after_it_was_catalogued_is_refused_when_opened_and_removal_is_named()
    {
        var catalogue = new ImageCatalogue(_store);
        string image = _images.Pack("one", ImageFixture.HealthyScript(), version: "2.0.0");
        (ImageRecord record, _) = await catalogue.Add(image, [_images.Key], "t");
        await using (FileStream ok = await ImageCatalogue.Open(record))
        {
            Assert.Equal(0, ok.Position);
        }

        File.Copy(_images.Pack("other", ImageFixture.HealthyScript(exitCode: 2), version: "2.0.0"), image, overwrite: true);
        var e = await Assert.ThrowsAsync<ImageException>(() => ImageCatalogue.Open(record));
        Assert.Contains("is no longer the image catalogued as emulated@2.0.0", e.Message, StringComparison.Ordinal);

        Assert.True(await catalogue.Remove("emulated", "2.0.0"));
        Assert.False(await catalogue.Remove("emulated", "2.0.0"));
        Assert.Null(await catalogue.Find("emulated", "2.0.0"));
    }

    [Theory]
    [InlineData("emulated@1.0.0", true, "emulated", "1.0.0")]
    [InlineData("bluefield-3@2.1-rc1", true, "bluefield-3", "2.1-rc1")]
    [InlineData("out/images/emulated@1.snimg", false, "", "")]
    [InlineData("@1.0", false, "", "")]
    [InlineData("emulated@", false, "", "")]
    public void Names_are_BOARD_at_VERSION_and_paths_are_not(string text, bool ok, string board, string version)
    {
        Assert.Equal(ok, ImageCatalogue.TryParseName(text, out string b, out string v));
        Assert.Equal((board, version), (b, v));
    }
}

using System.Xml.Linq;
using Xunit;

namespace SnicRuntime.Tests.Architecture;

/// <summary>The layering the architecture promises, read from the project files themselves.</summary>
public class ProjectLayoutTests
{
    private static string Root => SnicRuntime.Management.Images.FirmwarePublisher.FindSourceTree()
        ?? throw new InvalidOperationException("the source tree (SnicRuntime.sln) is not above the test's directory");

    private static IEnumerable<string> ReferencesOf(string project) =>
        XDocument.Load(Path.Combine(Root, project)).Descendants("ProjectReference")
            .Select(r => Path.GetFileName(r.Attribute("Include")!.Value));

    [Theory]
    [InlineData("host/management/SnicRuntime.Management.csproj")]
    [InlineData("host/snicctl/SnicRuntime.Ctl.csproj")]
    public void No_host_project_references_the_firmware(string project)
    {
        Assert.DoesNotContain("SnicRuntime.Firmware.csproj", ReferencesOf(project));
    }

    [Fact]
    public void What_crosses_the_wire_is_one_library_both_sides_reference()
    {
        Assert.Contains("SnicRuntime.Contracts.csproj", ReferencesOf("firmware/SnicRuntime.Firmware.csproj"));
        Assert.Contains("SnicRuntime.Contracts.csproj", ReferencesOf("host/management/SnicRuntime.Management.csproj"));
        Assert.Empty(ReferencesOf("contracts/SnicRuntime.Contracts.csproj"));
    }

    [Fact]
    public void No_driver_name_is_spelled_out_under_firmware()
    {
        foreach (string file in Directory.EnumerateFiles(Path.Combine(Root, "firmware"), "*.cs", SearchOption.AllDirectories)
                     .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal)))
        {
            string text = File.ReadAllText(file);
            foreach (string driver in SnicRuntime.Hal.Board.HalDrivers.Names)
            {
                Assert.False(text.Contains($"\"{driver}\"", StringComparison.Ordinal), $"{file} names the HAL driver \"{driver}\"; drivers are looked up through hal/board/HalDrivers");
            }
        }
    }

    [Fact]
    public void No_source_file_under_firmware_hal_host_or_contracts_passes_400_lines()
    {
        var tooLong = new[] { "firmware", "hal", "host", "contracts" }
            .SelectMany(d => Directory.EnumerateFiles(Path.Combine(Root, d), "*.cs", SearchOption.AllDirectories))
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .Select(f => (File: Path.GetRelativePath(Root, f), Lines: File.ReadLines(f).Count()))
            .Where(x => x.Lines > 400)
            .ToList();
        Assert.True(tooLong.Count == 0, "over 400 lines: " + string.Join(", ", tooLong.Select(x => $"{x.File} ({x.Lines})")));
    }
}

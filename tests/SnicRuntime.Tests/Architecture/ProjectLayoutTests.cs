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

    /// <summary>
    /// Firmware namespaces form layers: a namespace's <c>using</c> directives and qualified names
    /// (<c>Pipeline.PolicyStore</c>) are its edges, and no chain of them comes back to where it
    /// started (the architecture issue broke encap↔pipeline, plans↔pipeline, ha↔pipeline,
    /// flows↔workers, workers↔boot). A partial class in a feature folder keeps its class's
    /// namespace, so it counts for that namespace.
    /// </summary>
    [Fact]
    public void Firmware_namespaces_have_no_cycle()
    {
        var edges = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        var qualified = new System.Text.RegularExpressions.Regex(
            @"(?<![\w.])(?:SnicRuntime\.Firmware\.)?(Acl|Agent|Boot|Card|Encap|Flows|Ha|Mapping|Meter|Nat|Parsing|Pipeline|Plans|Routing|Telemetry|Update|Workers)\.(?:(Channel|Sync)\.)?[A-Z]\w*");
        foreach (string file in Directory.EnumerateFiles(Path.Combine(Root, "firmware"), "*.cs", SearchOption.AllDirectories)
                     .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal)))
        {
            string[] lines = File.ReadAllLines(file);
            string ns = lines.First(l => l.StartsWith("namespace ", StringComparison.Ordinal))["namespace ".Length..].TrimEnd(';');
            HashSet<string> to = edges.TryGetValue(ns, out var set) ? set : edges[ns] = new HashSet<string>(StringComparer.Ordinal);
            foreach (string line in lines)
            {
                if (line.StartsWith("using SnicRuntime.Firmware", StringComparison.Ordinal))
                {
                    to.Add(line["using ".Length..].TrimEnd(';'));
                }
                else if (!line.StartsWith("namespace ", StringComparison.Ordinal))
                {
                    foreach (System.Text.RegularExpressions.Match m in qualified.Matches(line))
                    {
                        to.Add("SnicRuntime.Firmware." + m.Groups[1].Value + (m.Groups[2].Success ? "." + m.Groups[2].Value : ""));
                    }
                }
            }

            to.Remove(ns);
        }

        // Depth-first search; a back edge closes a cycle, reported as its path.
        var state = new Dictionary<string, int>(StringComparer.Ordinal); // 1 on the path, 2 done
        var path = new List<string>();
        string? cycle = null;
        void Visit(string n)
        {
            state[n] = 1;
            path.Add(n);
            foreach (string m in edges.GetValueOrDefault(n) ?? [])
            {
                if (cycle is not null)
                {
                    return;
                }

                if (state.GetValueOrDefault(m) == 1)
                {
                    cycle = string.Join(" -> ", path.Skip(path.IndexOf(m)).Append(m)).Replace("SnicRuntime.Firmware.", "", StringComparison.Ordinal);
                    return;
                }

                if (state.GetValueOrDefault(m) == 0)
                {
                    Visit(m);
                }
            }

            path.RemoveAt(path.Count - 1);
            state[n] = 2;
        }

        foreach (string n in edges.Keys.Order(StringComparer.Ordinal))
        {
            if (state.GetValueOrDefault(n) == 0 && cycle is null)
            {
                Visit(n);
            }
        }

        Assert.True(cycle is null, $"namespace cycle: {cycle}");
        Assert.True(edges.Count >= 15, $"only {edges.Count} firmware namespaces were read");
    }
}

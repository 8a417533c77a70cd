using System.Diagnostics;
using Xunit;

namespace SnicRuntime.Tests.Ctl;

/// <summary>Tests that start whole card processes run alone, after the parallel ones: they are timing-sensitive on 2 cores.</summary>
[CollectionDefinition("processes", DisableParallelization = true)]
public sealed class ProcessesCollection;

/// <summary><c>snicctl demo</c> end to end: two firmware processes, plan through their agents, counters, clean stop.</summary>
[Collection("processes")]
public sealed class SnicctlDemoTests
{
    [Fact]
    public async Task Demo_runs_two_cards_applies_the_plan_through_their_agents_and_stops_by_itself()
    {
        string dll = Path.Combine(TestPaths.RepoRoot, "host", "snicctl", "bin", "Release", "net9.0", "snicctl.dll");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = TestPaths.RepoRoot };
        foreach (string a in new[] { dll, "demo", "--seconds", "4" })
        {
            psi.ArgumentList.Add(a);
        }

        using Process p = Process.Start(psi)!;
        Task<string> err = p.StandardError.ReadToEndAsync();
        string output = await p.StandardOutput.ReadToEndAsync();
        Assert.True(p.WaitForExit(90_000), "the demo must stop by itself");
        Assert.True(p.ExitCode == 0, output + await err);
        Assert.Contains("card-a acked, card-b acked", output, StringComparison.Ordinal);
        Assert.Contains("card-a finished: exit 0", output, StringComparison.Ordinal);
        Assert.Contains("card-b finished: exit 0", output, StringComparison.Ordinal);
        Assert.Matches(@"card-a finished: exit 0 .*last counters read: rx [1-9]", output); // it forwarded traffic under the plan
    }
}

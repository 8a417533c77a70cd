using System.Diagnostics;

namespace SnicRuntime.Bench;

/// <summary>dpdk-testpmd as a benchmark peer: started line-buffered with its output kept, stopped with SIGINT (it prints its statistics).</summary>
internal sealed class TestPmd : IDisposable
{
    private readonly List<string> _lines = [];

    /// <param name="netns">A network namespace to run it in (ip netns exec execs it, so the pid stays testpmd's).</param>
    public TestPmd(IEnumerable<string> eal, IEnumerable<string> options, string? netns = null)
    {
        string[] command = ["/usr/bin/stdbuf", "-oL", "/usr/bin/dpdk-testpmd", .. eal, "--", .. options];
        var psi = new ProcessStartInfo(netns is null ? command[0] : "/usr/bin/ip", netns is null ? command[1..] : ["netns", "exec", netns, .. command])
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true,
        };
        Process = Process.Start(psi)!;
        Process.OutputDataReceived += (_, e) => { if (e.Data is not null) { lock (_lines) { _lines.Add(e.Data); } } };
        Process.ErrorDataReceived += (_, _) => { };
        Process.BeginOutputReadLine();
        Process.BeginErrorReadLine();
    }

    public Process Process { get; }

    /// <summary>The median of its per-second "Rx-pps" readings after the first (which spans its start), in Mpps; 0 when none.</summary>
    public static double MedianRxMpps(IEnumerable<string> output)
    {
        var rates = output.Where(l => l.TrimStart().StartsWith("Rx-pps:", StringComparison.Ordinal))
            .Select(l => double.Parse(l.Split(':', StringSplitOptions.TrimEntries)[1].Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture))
            .Skip(1).Where(r => r > 0).Order().ToList();
        return rates.Count == 0 ? 0 : rates[rates.Count / 2] / 1e6;
    }

    /// <summary>SIGINT, then its output to the end.</summary>
    public List<string> Stop()
    {
        if (!Process.HasExited)
        {
            _ = Kill(Process.Id, 2);
            if (!Process.WaitForExit(20_000))
            {
                Process.Kill();
            }

            Process.WaitForExit();
        }

        lock (_lines)
        {
            return [.. _lines];
        }
    }

    public void Dispose()
    {
        Stop();
        Process.Dispose();
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill")]
    private static extern int Kill(int pid, int signal);
}

using SnicRuntime.TestKit;
using System.Diagnostics;
using Xunit;

namespace SnicRuntime.Tests.Host.Snicctl;

/// <summary>Runs the built snicctl as a user would (a separate process), returning exit code, stdout and stderr.</summary>
internal static class SnicctlProcess
{
    public static string Plan(string name) => Path.Combine(TestPaths.RepoRoot, "examples", "plans", name);

    public static (int Code, string Out, string Err) Run(params string[] args) => RunWith(new Dictionary<string, string>(), args);

    /// <summary>Runs snicctl with <paramref name="environment"/> added (a store password, say).</summary>
    public static (int Code, string Out, string Err) RunWith(IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        ProcessStartInfo start = StartInfo(args);
        foreach ((string name, string value) in environment)
        {
            start.Environment[name] = value;
        }

        using Process p = Process.Start(start)!;
        Task<string> err = p.StandardError.ReadToEndAsync();
        string output = p.StandardOutput.ReadToEnd();
        Assert.True(p.WaitForExit(90_000), "snicctl did not finish in 90 s");
        return (p.ExitCode, output, err.GetAwaiter().GetResult());
    }

    /// <summary>Starts snicctl in the background; its output lines collect in <paramref name="output"/> (stdout and stderr).</summary>
    public static Process Start(System.Collections.Concurrent.ConcurrentQueue<string> output, params string[] args)
    {
        return LoggedProcess.Start(StartInfo(args), output);
    }

    private static ProcessStartInfo StartInfo(string[] args)
    {
        string dll = Path.Combine(TestPaths.RepoRoot, "host", "snicctl", "bin", "Release", "net9.0", "snicctl.dll");
        Assert.True(File.Exists(dll), $"{dll} not built (dotnet build SnicRuntime.sln -c Release)");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = TestPaths.RepoRoot };
        psi.ArgumentList.Add(dll);
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        return psi;
    }
}

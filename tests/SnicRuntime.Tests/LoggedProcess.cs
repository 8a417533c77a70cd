using System.Collections.Concurrent;
using System.Diagnostics;

namespace SnicRuntime.Tests;

/// <summary>Starts a helper process (testpmd, QEMU, a firmware, snicctl) whose output lines the test reads as they come.</summary>
internal static class LoggedProcess
{
    /// <summary>Starts <paramref name="psi"/> with stdout and stderr redirected; every line of either goes to <paramref name="log"/>, after <paramref name="prefix"/>.</summary>
    public static Process Start(ProcessStartInfo psi, ConcurrentQueue<string> log, string prefix = "")
    {
        psi.RedirectStandardOutput = true;
        psi.RedirectStandardError = true;
        Process p = Process.Start(psi)!;
        p.OutputDataReceived += (_, e) => { if (e.Data is not null) { log.Enqueue(prefix + e.Data); } };
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) { log.Enqueue(prefix + e.Data); } };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return p;
    }
}

namespace SnicRuntime.Firmware.Card;

/// <summary>
/// How the firmware's main loops learn to stop before their time: SIGTERM (a supervisor or an
/// operator stopping the card) or the agent asking for a reboot into a newly installed slot.
/// </summary>
public static class FirmwareLifetime
{
    private static CancellationTokenSource s_stopping = new();
    private static int s_exitCode;

    public static CancellationToken Stopping => s_stopping.Token;

    /// <summary>The exit code the stop asked for (0 = a plain stop).</summary>
    public static int ExitCode => Volatile.Read(ref s_exitCode);

    public static void RequestStop(int exitCode = 0)
    {
        Volatile.Write(ref s_exitCode, exitCode);
        s_stopping.Cancel();
    }

    /// <summary>A fresh lifetime (each Main call; tests run Main several times in one process).</summary>
    internal static void Reset()
    {
        s_stopping = new CancellationTokenSource();
        s_exitCode = 0;
    }
}

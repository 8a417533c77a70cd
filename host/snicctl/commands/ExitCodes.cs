namespace SnicRuntime.Ctl;

/// <summary>What snicctl's exit status means, so scripts can branch on it.</summary>
internal static class ExitCodes
{
    public const int Ok = 0;
    /// <summary>The command ran but what it checked failed (e.g. a plan with errors).</summary>
    public const int Rejected = 1;
    /// <summary>Bad arguments (System.CommandLine's own parse errors also exit non-zero).</summary>
    public const int Usage = 2;
    /// <summary>An input file is missing or unreadable.</summary>
    public const int InputError = 3;
    /// <summary>A card could not be reached or did not take the request (named on stderr).</summary>
    public const int Unreachable = 4;
    /// <summary>The store of desired state could not be reached or refused (quorum lost, auth), named on stderr; nothing was changed.</summary>
    public const int StoreUnavailable = 5;
}

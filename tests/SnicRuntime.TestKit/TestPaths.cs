namespace SnicRuntime.TestKit;

/// <summary>Locations of test data copied next to the test assembly.</summary>
public static class TestPaths
{
    public static string Captures(string file) => Path.Combine(AppContext.BaseDirectory, "captures", file);

    public static string Plan(string file) => Path.Combine(AppContext.BaseDirectory, "plans", file);

    public static string BoardsDirectory => Path.Combine(AppContext.BaseDirectory, "boards");

    /// <summary>The repository root (where SnicRuntime.sln is), found upward from the test assembly.</summary>
    public static string RepoRoot
    {
        get
        {
            for (DirectoryInfo? d = new(AppContext.BaseDirectory); d is not null; d = d.Parent)
            {
                if (File.Exists(Path.Combine(d.FullName, "SnicRuntime.sln")))
                {
                    return d.FullName;
                }
            }

            throw new DirectoryNotFoundException("SnicRuntime.sln not found above " + AppContext.BaseDirectory);
        }
    }

    /// <summary>Full path of a program on PATH, or null.</summary>
    public static string? FindProgram(string name)
    {
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':'))
        {
            string candidate = Path.Combine(dir, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }
}

using SnicRuntime.Firmware.Boot;
using Xunit;

namespace SnicRuntime.Tests.Workers;

[Collection("console")]
public class FirmwareProgramTests
{
    [Theory]
    [InlineData(new[] { "--seconds", "abc" }, "--seconds")]
    [InlineData(new[] { "--workers", "0" }, "--workers")]
    [InlineData(new[] { "--flows" }, "needs a value")]
    [InlineData(new[] { "--bogus" }, "unknown option '--bogus'")]
    [InlineData(new[] { "--rate", "-5" }, "--rate")]
    [InlineData(new[] { "--plan", "p.json", "--stage", "flows" }, "does not combine with --stage")]
    [InlineData(new[] { "--plan", "p.json", "--agent", "9000" }, "--agent needs exactly one of --agent-tls")]
    [InlineData(new[] { "--agent", "70000" }, "is not a TCP port")]
    public void Bad_arguments_are_named(string[] args, string mentions)
    {
        FirmwareOptions.Parse(args, out List<string> errors);
        Assert.Contains(errors, e => e.Contains(mentions, StringComparison.Ordinal));
    }

    [Fact]
    public void The_demo_runs_on_the_emulated_board_and_accounts_for_every_packet()
    {
        string board = Path.Combine(TestPaths.BoardsDirectory, "emulated", "emulated.json");
        Assert.Equal(0, Program.Main(["--board", board, "--seconds", "1", "--flows", "2000", "--rate", "200000"]));
    }

    [Fact]
    public void The_policy_demo_runs_the_demo_plan_and_accounts_for_every_packet()
    {
        string board = Path.Combine(TestPaths.BoardsDirectory, "emulated", "emulated.json");
        Assert.Equal(0, Program.Main(["--board", board, "--plan", TestPaths.Plan("demo.json"), "--seconds", "1", "--flows", "2000", "--rate", "200000"]));
    }

    [Fact]
    public void An_invalid_or_missing_plan_exits_2()
    {
        string board = Path.Combine(TestPaths.BoardsDirectory, "emulated", "emulated.json");
        string bad = Path.Combine(Path.GetTempPath(), $"snic-bad-plan-{Environment.ProcessId}.json");
        File.WriteAllText(bad, "{\"generation\": 1}");
        try
        {
            Assert.Equal(2, Program.Main(["--board", board, "--plan", bad, "--seconds", "1"]));
            Assert.Equal(2, Program.Main(["--board", board, "--plan", "/nonexistent/plan.json", "--seconds", "1"]));
        }
        finally
        {
            File.Delete(bad);
        }
    }

    [Fact]
    public void A_missing_or_invalid_board_exits_2()
    {
        Assert.Equal(2, Program.Main(["--board", "/nonexistent/board.json", "--seconds", "1"]));
        Assert.Equal(2, Program.Main(["--seconds", "-1"]));
    }
}

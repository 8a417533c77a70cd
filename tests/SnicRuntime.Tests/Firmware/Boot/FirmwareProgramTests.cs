using SnicRuntime.Firmware.Boot;
using SnicRuntime.TestKit;
using Xunit;

namespace SnicRuntime.Tests.Firmware.Boot;

[Collection("console")]
public class FirmwareProgramTests
{
    [Theory]
    [InlineData(new[] { "--seconds", "abc" }, "--seconds")]
    [InlineData(new[] { "--workers", "0" }, "--workers")]
    [InlineData(new[] { "--flows" }, "Required argument missing for option: '--flows'")]
    [InlineData(new[] { "--bogus" }, "Unrecognized command or argument '--bogus'")]
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
    public void A_config_file_supplies_options_the_command_line_overrides_and_bad_ones_are_named()
    {
        string dir = Directory.CreateTempSubdirectory("snic-config-").FullName;
        try
        {
            string good = Path.Combine(dir, "good.json");
            File.WriteAllText(good, "{ \"flow-capacity\": 4096, \"workers\": 2, \"stage\": \"forward\" }");
            var errors = new List<string>();
            List<string> args = FirmwareOptions.ExpandConfig(["--config", good, "--workers", "1"], errors);
            Assert.Empty(errors);
            FirmwareOptions o = FirmwareOptions.Parse(args, out List<string> parseErrors);
            Assert.Empty(parseErrors);
            Assert.Equal(4096, o.FlowCapacity);
            Assert.Equal(1, o.Workers); // the command line wins
            Assert.Equal(SnicRuntime.Firmware.Card.StageKind.Forward, o.Stage);

            string bad = Path.Combine(dir, "bad.json");
            File.WriteAllText(bad, "{ \"slots\": \"/x\", \"flows\": true }");
            FirmwareOptions.Parse(FirmwareOptions.ExpandConfig(["--config", bad], errors), out parseErrors);
            Assert.Contains(errors, e => e.Contains("'slots' cannot be set from a config file", StringComparison.Ordinal));
            Assert.Contains(parseErrors, e => e.Contains("--flows: '<True>'", StringComparison.Ordinal));
            errors.Clear();
            FirmwareOptions.ExpandConfig(["--config", Path.Combine(dir, "none.json")], errors);
            Assert.Contains(errors, e => e.StartsWith("--config ", StringComparison.Ordinal));
            File.WriteAllText(bad, "[1]");
            errors.Clear();
            FirmwareOptions.ExpandConfig(["--config", bad], errors);
            Assert.Contains(errors, e => e.Contains("must be a JSON object", StringComparison.Ordinal));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
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

    [Theory]
    [InlineData(new[] { "--help" }, "--flow-capacity <N>")]
    [InlineData(new[] { "-h" }, "replay")]
    [InlineData(new[] { "boot", "--help" }, "--health-timeout <S>")]
    [InlineData(new[] { "replay", "--help" }, "--out-dir <DIR>")]
    public void Every_command_has_help_that_lists_its_options(string[] args, string mentions)
    {
        TextWriter saved = Console.Out;
        using var captured = new StringWriter();
        Console.SetOut(captured);
        try
        {
            Assert.Equal(0, Program.Main(args));
        }
        finally
        {
            Console.SetOut(saved);
        }

        Assert.Contains(mentions, captured.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new[] { "--plan", "p.json", "--stage", "flows" }, "plan first")]
    [InlineData(new[] { "--stage", "flows", "--plan", "p.json" }, "stage first")]
    public void Plan_and_stage_are_refused_together_in_either_order(string[] args, string order)
    {
        FirmwareOptions.Parse(args, out List<string> errors);
        Assert.True(errors.Exists(e => e.Contains("does not combine with --stage", StringComparison.Ordinal)), $"{order}: {string.Join("; ", errors)}");
    }
}

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
    public void A_missing_or_invalid_board_exits_2()
    {
        Assert.Equal(2, Program.Main(["--board", "/nonexistent/board.json", "--seconds", "1"]));
        Assert.Equal(2, Program.Main(["--seconds", "-1"]));
    }
}

using System.CommandLine;
using SnicRuntime.Management;
using Spectre.Console;

namespace SnicRuntime.Ctl;

/// <summary>
/// <c>snicctl stats CARD</c>: the card's counters with lifetime averages (cycles per packet,
/// burst-latency percentiles); <c>--watch</c> re-reads every interval and shows rates over it as a
/// live table (one table per interval when the output is not a terminal; one JSON line per
/// interval with <c>--json</c>).
/// </summary>
internal static class StatsCommand
{
    public static Command Create()
    {
        var card = new Argument<string>("card") { Description = "card name" };
        var watch = new Option<bool>("--watch") { Description = "keep reading; show rates over each interval" };
        var interval = new Option<int>("--interval-ms") { Description = "how often --watch reads", DefaultValueFactory = _ => 1000 };
        var count = new Option<int?>("--count") { Description = "with --watch: stop after this many intervals (default: until Ctrl+C)" };
        var command = new Command("stats", "a card's counters and efficiency figures (one shot, or --watch live)") { card, watch, interval, count };
        command.SetAction(async (parse, cancel) =>
        {
            string name = parse.GetValue(card)!;
            if (!parse.GetValue(watch))
            {
                return await CardQueryCommands.Query(parse, name, "/v1/counters", body =>
                    AnsiConsole.Write(CardView.Render([CardFigures.Lifetime(name, CardSample.Parse(body, DateTimeOffset.UtcNow))], rates: false)), cancel);
            }

            if (parse.GetValue(interval) is < 100 or > 3_600_000 || parse.GetValue(count) is < 1)
            {
                Console.Error.WriteLine("snicctl stats: --interval-ms must be 100..3600000 and --count at least 1");
                return ExitCodes.Usage;
            }

            using ManagementStore state = State.Open(parse);
            Card? found = state.FindCard(name);
            if (found is null)
            {
                Console.Error.WriteLine($"snicctl: no card named '{name}' (snicctl cards list)");
                return ExitCodes.Rejected;
            }

            return await Watch(found, State.Identity(parse), TimeSpan.FromMilliseconds(parse.GetValue(interval)), parse.GetValue(count),
                parse.GetValue(State.Json), cancel);
        });
        return command;
    }

    private static async Task<int> Watch(Card card, ManagementIdentity? identity, TimeSpan interval, int? count, bool json, CancellationToken cancel)
    {
        using var client = new AgentClient(card, TimeSpan.FromSeconds(5), identity);
        CardSample? previous = null;
        int shown = 0;
        bool live = !json && !Console.IsOutputRedirected && AnsiConsole.Profile.Capabilities.Interactive;

        // One reading → figures over the interval since the previous one (down: the card's reason).
        async Task<CardFigures> Read()
        {
            AgentReply reply = await client.Get("/v1/counters", cancel);
            if (!reply.Ok)
            {
                return CardFigures.Down(card.Name, reply.Reason);
            }

            CardSample now = CardSample.Parse(reply.Body!.Value, DateTimeOffset.UtcNow);
            CardFigures f = CardFigures.Derive(card.Name, previous, now);
            previous = now;
            return f;
        }

        try
        {
            await Read(); // the first interval starts here
            if (live)
            {
                await AnsiConsole.Live(new Text($"reading {card.Name} every {interval.TotalMilliseconds:F0} ms…")).StartAsync(async ctx =>
                {
                    while (count is null || shown < count)
                    {
                        await Task.Delay(interval, cancel);
                        ctx.UpdateTarget(CardView.Render([await Read()], rates: true));
                        shown++;
                    }
                });
                return ExitCodes.Ok;
            }

            while (count is null || shown < count)
            {
                await Task.Delay(interval, cancel);
                CardFigures f = await Read();
                if (json)
                {
                    using var stdout = Console.OpenStandardOutput();
                    using (var w = new System.Text.Json.Utf8JsonWriter(stdout))
                    {
                        CardView.WriteJson(w, f);
                    }

                    Console.WriteLine();
                }
                else
                {
                    AnsiConsole.Write(CardView.Render([f], rates: true));
                }

                shown++;
            }
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            // Ctrl+C ends a watch; that is its normal stop.
        }

        return ExitCodes.Ok;
    }
}

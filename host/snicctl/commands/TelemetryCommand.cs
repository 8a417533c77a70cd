using System.CommandLine;
using System.Net;
using SnicRuntime.Management;

namespace SnicRuntime.Ctl;

/// <summary><c>snicctl telemetry</c>: collect every card's counters continuously and serve them as Prometheus text.</summary>
internal static class TelemetryCommand
{
    public static Command Create()
    {
        var listen = new Option<string>("--listen") { Description = "address:port of the Prometheus endpoint (loopback unless you say otherwise)", DefaultValueFactory = _ => "127.0.0.1:9464" };
        var interval = new Option<int>("--interval-ms") { Description = "collection interval", DefaultValueFactory = _ => 1000 };
        var seconds = new Option<int?>("--seconds") { Description = "stop after this long (default: until Ctrl+C)" };
        var command = new Command("telemetry", "collect card telemetry continuously; serve it at http://<listen>/metrics (Prometheus text)") { listen, interval, seconds };
        command.SetAction(async (parse, cancel) =>
        {
            if (!IPEndPoint.TryParse(parse.GetValue(listen)!, out IPEndPoint? endpoint) || endpoint.Port == 0)
            {
                Console.Error.WriteLine($"snicctl telemetry: --listen '{parse.GetValue(listen)}' is not address:port");
                return ExitCodes.Usage;
            }

            if (parse.GetValue(interval) is < 100 or > 3_600_000)
            {
                Console.Error.WriteLine($"snicctl telemetry: --interval-ms {parse.GetValue(interval)} is out of range (100..3600000)");
                return ExitCodes.Usage;
            }

            using ManagementStore state = State.Open(parse);
            var collector = new TelemetryCollector(state, State.Identity(parse));
            TelemetryEndpoint served;
            try
            {
                served = await TelemetryEndpoint.StartAsync(endpoint, collector);
            }
            catch (IOException e)
            {
                Console.Error.WriteLine($"snicctl telemetry: cannot listen on {endpoint}: {e.Message}");
                return ExitCodes.InputError;
            }

            await using (served)
            {
                Console.WriteLine($"serving {new Uri(served.Address, "/metrics")}; collecting {state.Cards().Count} card(s) every {parse.GetValue(interval)} ms");
                using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancel);
                if (parse.GetValue(seconds) is int s)
                {
                    stop.CancelAfter(TimeSpan.FromSeconds(s));
                }

                await collector.Run(TimeSpan.FromMilliseconds(parse.GetValue(interval)), stop.Token);
            }

            return ExitCodes.Ok;
        });
        return command;
    }
}

using System.CommandLine;
using SnicRuntime.Management;

namespace SnicRuntime.Ctl;

/// <summary><c>snicctl flows CARD</c>: a paged read from a card's agent (and the query helper <c>stats</c> shares).</summary>
internal static class CardQueryCommands
{
    public static Command Flows()
    {
        var card = new Argument<string>("card") { Description = "card name" };
        var eni = new Option<string?>("--eni") { Description = "only this ENI's flows" };
        var address = new Option<string?>("--address") { Description = "only flows with this endpoint address" };
        var port = new Option<int?>("--port") { Description = "only flows with this endpoint port" };
        var limit = new Option<int>("--limit") { Description = "flows per page", DefaultValueFactory = _ => 50 };
        var cursor = new Option<string?>("--cursor") { Description = "continue from a previous page's cursor" };
        var command = new Command("flows", "list a card's flows (paged, filtered)") { card, eni, address, port, limit, cursor };
        command.SetAction(async (parse, cancel) =>
        {
            var query = new List<string> { $"limit={parse.GetValue(limit)}" };
            if (parse.GetValue(eni) is string e)
            {
                query.Add("eni=" + Uri.EscapeDataString(e));
            }

            if (parse.GetValue(address) is string a)
            {
                query.Add("address=" + Uri.EscapeDataString(a));
            }

            if (parse.GetValue(port) is int p)
            {
                query.Add($"port={p}");
            }

            if (parse.GetValue(cursor) is string c)
            {
                query.Add("cursor=" + Uri.EscapeDataString(c));
            }

            return await Query(parse, parse.GetValue(card)!, "/v1/flows?" + string.Join('&', query), body =>
            {
                Console.WriteLine($"{"ENI",-8} {"PROTO",5} {"ENDPOINT A",-22} {"ENDPOINT B",-22} {"PKTS",8} {"STATE",-11} ACTION");
                foreach (var f in body.GetProperty("flows").EnumerateArray())
                {
                    Console.WriteLine($"{f.GetProperty("eni").GetString(),-8} {f.GetProperty("protocol").GetInt32(),5} " +
                        $"{f.GetProperty("address_a").GetString() + ":" + f.GetProperty("port_a").GetInt32(),-22} " +
                        $"{f.GetProperty("address_b").GetString() + ":" + f.GetProperty("port_b").GetInt32(),-22} " +
                        $"{f.GetProperty("packets").GetUInt32(),8} {f.GetProperty("tcp").GetString(),-11} {f.GetProperty("action").GetString()}");
                }

                if (body.GetProperty("next").GetString() is string next)
                {
                    Console.WriteLine($"more: --cursor {next}");
                }
            }, cancel);
        });
        return command;
    }

    internal static async Task<int> Query(ParseResult parse, string name, string path, Action<System.Text.Json.JsonElement> print, CancellationToken cancel)
    {
        using ManagementStore state = State.Open(parse);
        Card? card = state.FindCard(name);
        if (card is null)
        {
            Console.Error.WriteLine($"snicctl: no card named '{name}' (snicctl cards list)");
            return ExitCodes.Rejected;
        }

        using var client = new AgentClient(card, identity: State.Identity(parse));
        AgentReply reply = await client.Get(path, cancel);
        if (!reply.Ok)
        {
            Console.Error.WriteLine(reply.Status == 0 ? $"snicctl: {reply.Reason}" : $"snicctl: card '{name}' refused {path}: {reply.Reason}");
            return reply.Status == 0 ? ExitCodes.Unreachable : ExitCodes.Rejected;
        }

        if (parse.GetValue(State.Json))
        {
            State.WriteJson(w => reply.Body!.Value.WriteTo(w));
        }
        else
        {
            print(reply.Body!.Value);
        }

        return ExitCodes.Ok;
    }
}

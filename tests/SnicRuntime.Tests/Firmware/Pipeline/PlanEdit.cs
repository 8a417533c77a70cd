using SnicRuntime.TestKit;
using Xunit;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace SnicRuntime.Tests.Firmware.Pipeline;

/// <summary>Edits a plan document for tests (the plans themselves are the shipped examples).</summary>
internal static class PlanEdit
{
    public static JsonNode Load(string name) =>
        JsonNode.Parse(File.ReadAllText(TestPaths.Plan(name)), documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip })!;

    public static string Edit(string name, Action<JsonNode> edit)
    {
        JsonNode plan = Load(name);
        edit(plan);
        return plan.ToJsonString();
    }
}

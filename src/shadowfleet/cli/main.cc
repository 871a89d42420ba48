#include "shadowfleet/cli/cli.h"

int main(int argc, char** argv) {
  return shadowfleet::RunCli(argc, argv);
}

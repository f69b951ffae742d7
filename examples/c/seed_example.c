#include <stdio.h> /* the only line not in the seed README's snippet, which calls printf without it */
#include "lightning_db.h"

int main() {
    // Create database
    lightning_db_t* db = lightning_db_create("./mydb", NULL);
    if (!db) {
        fprintf(stderr, "Failed to create database\n");
        return 1;
    }
    
    // Put operation
    lightning_db_put(db, "key", 3, "value", 5);
    
    // Get operation
    size_t value_len;
    char* value = lightning_db_get(db, "key", 3, &value_len);
    if (value) {
        printf("Value: %.*s\n", (int)value_len, value);
        lightning_db_free_value(value);
    }
    
    // Clean up
    lightning_db_destroy(db);
    return 0;
}
